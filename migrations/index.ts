import { TotalsIndexNotAKey1796597348986 } from "./1796597348986-totals-index-not-a-key";
import { EventsAndUsersKeyedByCompany1796586650660 } from "./1796586650660-events-and-users-keyed-by-company";
import { AnalyticsCompanyInEveryKey1796585881468 } from "./1796585881468-analytics-company-in-every-key";
import { RegistrantCounts1796588100001 } from "./1796588100001-registrant-counts";
import { CompanyAttendees1796588100000 } from "./1796588100000-company-attendees";
import { CompanyInEveryKey1796574153104 } from "./1796574153104-company-in-every-key";
import { FullEventRefusesAtOnce1796586335322 } from "./1796586335322-full-event-refuses-at-once";
import { ActivityHourRollups1796573980046 } from "./1796573980046-activity-hour-rollups";
import { LiveChangeNotices1796561000000 } from "./1796561000000-live-change-notices";
import { NamedIndexes1796561938525 } from "./1796561938525-named-indexes";
import { WindowSegments1796553047572 } from "./1796553047572-window-segments";
import { UserLifeAndRolePermissions1796549106376 } from "./1796549106376-user-life-and-role-permissions";
import { Webhooks1796549111891 } from "./1796549111891-webhooks";
import { AttendanceSums1796549292447 } from "./1796549292447-attendance-sums";
import { PartnerTokenMaxTtl1796549109685 } from "./1796549109685-partner-token-max-ttl";
import { JoinInOneStatement1796537675106 } from "./1796537675106-join-in-one-statement";
import { MasterKeyVerifier1796537805157 } from "./1796537805157-master-key-verifier";
import { AnalyticsPendingInstants1796319516960 } from "./1796319516960-analytics-pending-instants";
import { Federation1795322230727 } from "./1795322230727-federation";
import { AnalyticsIndexes1795316718244 } from "./1795316718244-analytics-indexes";
import { JoinTokensAndSessions1795313555660 } from "./1795313555660-join-tokens-and-sessions";
import { Foundation1795313334905 } from "./1795313334905-foundation";
/** Every migration, in order. The generator script adds new ones here. */
export const MIGRATIONS: Function[] = [
  Foundation1795313334905,
  JoinTokensAndSessions1795313555660,
  AnalyticsIndexes1795316718244,
  Federation1795322230727,
  AnalyticsPendingInstants1796319516960,
  JoinInOneStatement1796537675106,
  MasterKeyVerifier1796537805157,
  UserLifeAndRolePermissions1796549106376,
  PartnerTokenMaxTtl1796549109685,
  Webhooks1796549111891,
  AttendanceSums1796549292447,
  WindowSegments1796553047572,
  LiveChangeNotices1796561000000,
  NamedIndexes1796561938525,
  ActivityHourRollups1796573980046,
  CompanyInEveryKey1796574153104,
  AnalyticsCompanyInEveryKey1796585881468,
  FullEventRefusesAtOnce1796586335322,
  EventsAndUsersKeyedByCompany1796586650660,
  CompanyAttendees1796588100000,
  RegistrantCounts1796588100001,
  TotalsIndexNotAKey1796597348986,
];
