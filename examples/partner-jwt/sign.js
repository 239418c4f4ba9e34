// A partner (or the company's own backend) signs a JWT with a partner secret, as integrators of
// other video and events platforms already do with `jsonwebtoken`, and opens Admit's join URL
// with it as `?code=`. Admit creates or refreshes the user from the `user` claim.
//
//   ADMIT_URL=http://localhost:4000 ADMIT_COMPANY_SLUG=acme ADMIT_EVENT_SLUG=all-hands \
//   ADMIT_PARTNER_SECRET_ID=<id> ADMIT_PARTNER_SECRET=<secret> node sign.js
//
// The secret and its id come from createPartnerSecret (the secret is shown once). Prints the
// join URL; open it in a browser (or an iframe on an allowed embed origin).
"use strict";
const jwt = require("jsonwebtoken");

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`Set ${name}.`);
    process.exit(2);
  }
  return value;
};
const ADMIT_URL = env("ADMIT_URL", "http://localhost:4000").replace(/\/$/, "");
const COMPANY = env("ADMIT_COMPANY_SLUG");
const EVENT = env("ADMIT_EVENT_SLUG");
const SECRET_ID = env("ADMIT_PARTNER_SECRET_ID");
const SECRET = env("ADMIT_PARTNER_SECRET");

const token = jwt.sign(
  {
    // The user, created just in time; extra keys become its metadata.
    user: { id: "partner-user-7", name: "Grace Hopper", email: "grace@partner.example" },
    // Optional; when present it must be the company's issuer at Admit.
    aud: `${ADMIT_URL}/c/${COMPANY}`,
  },
  // The HMAC key is the UTF-8 bytes of the secret as shown.
  SECRET,
  {
    algorithm: "HS256",
    expiresIn: "10m", // exp is required, at most partnerTokenMaxTtlSeconds ahead (default 7 days)
    keyid: SECRET_ID, // optional: without a kid, Admit tries each active partner secret of the company
  },
);

// The join page takes the partner JWT as ?code= (it leaves the address bar before anything else).
console.log(`${ADMIT_URL}/j/${encodeURIComponent(COMPANY)}/${encodeURIComponent(EVENT)}?code=${token}`);
