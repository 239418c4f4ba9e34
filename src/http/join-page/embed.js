/*! Admit embed helper: frames an Admit join page in your page and hands you its session messages.
 * Admit.mount(element, { joinUrl, externalAuthCode?, onSession?, title?, height? }), or
 * <script src="https://<admit>/embed.js" data-join-url="…" data-external-auth-code="…"></script>.
 * No dependencies, no eval, no inline styles in markup: it runs under a strict CSP. */
(function () {
  "use strict";
  // What a live event inside the frame may ask the browser for; the browser still asks the person.
  var ALLOW = "camera; microphone; display-capture; fullscreen; autoplay; clipboard-write; picture-in-picture";

  function frameUrl(joinUrl, externalAuthCode) {
    var url = new URL(joinUrl, document.baseURI);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new Error("Admit.mount: joinUrl must be an http(s) URL");
    if (externalAuthCode) {
      // In the fragment: never sent to a server, so it stays out of access logs and Referer headers.
      var fragment = new URLSearchParams(url.hash.slice(1));
      fragment.set("externalAuthCode", externalAuthCode);
      url.hash = fragment.toString();
    }
    return url;
  }

  function mount(target, options) {
    options = options || {};
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) throw new Error("Admit.mount: no element " + target);
    if (!options.joinUrl) throw new Error("Admit.mount: joinUrl is required");
    var url = frameUrl(options.joinUrl, options.externalAuthCode);

    var iframe = document.createElement("iframe");
    iframe.title = options.title || "Live event";
    iframe.allow = ALLOW;
    iframe.allowFullscreen = true;
    iframe.style.display = "block";
    iframe.style.border = "0";
    iframe.style.width = "100%";
    iframe.style.height = options.height || "480px";

    // Only the join page in this frame speaks for the session: the message must come from the
    // join URL's origin and from this frame's window (not another frame, not the page itself).
    function onMessage(event) {
      if (event.origin !== url.origin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.type !== "admit:session") return;
      if (typeof options.onSession === "function") options.onSession(data);
      el.dispatchEvent(new CustomEvent("admit:session", { detail: data, bubbles: true }));
    }
    window.addEventListener("message", onMessage);
    iframe.src = url.href;
    el.appendChild(iframe);
    return {
      iframe: iframe,
      unmount: function () {
        window.removeEventListener("message", onMessage);
        iframe.remove();
      },
    };
  }

  var Admit = window.Admit || (window.Admit = {});
  Admit.mount = mount;

  // The script tag alone: the frame goes where the script stands (or into data-target), and the
  // messages arrive as "admit:session" events that bubble to the document, and to the global
  // function data-on-session names, if any.
  var script = document.currentScript;
  var joinUrl = script && script.getAttribute("data-join-url");
  if (!joinUrl) return;
  var selector = script.getAttribute("data-target");
  var box = selector ? document.querySelector(selector) : document.createElement("div");
  if (!selector) script.parentNode.insertBefore(box, script.nextSibling);
  var handler = script.getAttribute("data-on-session");
  mount(box, {
    joinUrl: joinUrl,
    externalAuthCode: script.getAttribute("data-external-auth-code") || undefined,
    title: script.getAttribute("data-title") || undefined,
    height: script.getAttribute("data-height") || undefined,
    onSession: handler
      ? function (data) {
          if (typeof window[handler] === "function") window[handler](data);
        }
      : undefined,
  });
})();
