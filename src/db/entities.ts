import { ApiKeyEntity } from "../modules/company/api-key.entity";
import { CompanyEntity } from "../modules/company/company.entity";
import { PlatformAdminKeyEntity } from "../modules/company/platform-admin-key.entity";
import { EventPrincipalEntity } from "../modules/event/event-principal.entity";
import { EventEntity } from "../modules/event/event.entity";
import { UserEntity } from "../modules/user/user.entity";

/** Every entity, in one list shared by the app, the CLI scripts and the tests. */
export const ENTITIES = [
  CompanyEntity,
  ApiKeyEntity,
  PlatformAdminKeyEntity,
  EventEntity,
  EventPrincipalEntity,
  UserEntity,
];
