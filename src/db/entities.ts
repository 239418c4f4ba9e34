import { ApiKeyEntity } from "../modules/company/api-key.entity";
import { CompanyEntity } from "../modules/company/company.entity";
import { PlatformAdminKeyEntity } from "../modules/company/platform-admin-key.entity";
import { EventPrincipalEntity } from "../modules/event/event-principal.entity";
import { EventEntity } from "../modules/event/event.entity";
import { UserEntity } from "../modules/user/user.entity";
import { SigningKeyEntity } from "../modules/token/signing-key.entity";
import { RevokedTokenEntity } from "../modules/token/revoked-token.entity";
import { SessionEntity } from "../modules/session/session.entity";
import { RegistrantEntity } from "../modules/registrant/registrant.entity";
import {
  AnalyticsPendingAttendanceEntity,
  AttendanceEventRollupEntity,
  AttendanceRollupEntity,
  AttendanceValueRollupEntity,
} from "../modules/analytics/attendance-rollup.entity";
import { CompanyAttendeeEntity } from "../modules/analytics/company-attendee.entity";
import { AnalyticsPendingRegistrantsEntity, RegistrantCountEntity } from "../modules/analytics/registrant-count.entity";
import {
  AnalyticsPendingWindowEntity,
  AttendanceGapCellEntity,
  AttendanceSegmentEntity,
  AttendanceWindowMinuteEntity,
} from "../modules/analytics/attendance-window.entity";
import { LoginLinkEntity } from "../modules/login-link/login-link.entity";
import { PartnerSecretEntity } from "../modules/partner/partner-secret.entity";
import { IdentityProviderEntity } from "../modules/identity-provider/identity-provider.entity";
import { JoinRequestEntity } from "../modules/knock/join-request.entity";
import { AuthFailureEntity } from "../modules/password/auth-failure.entity";
import { SeatStripeEntity } from "../modules/user/seat-stripe.entity";
import { ErasedSubjectEntity } from "../modules/user/erased-subject.entity";
import { EventOccupancyEntity } from "../modules/session/event-occupancy.entity";
import { UserPasswordEntity } from "../modules/password/user-password.entity";
import { MasterKeyVerifierEntity } from "../modules/master-key/master-key-verifier.entity";
import {
  WebhookDeliveryEntity,
  WebhookEndpointEntity,
  WebhookMessageEntity,
  WebhookSubscriptionEntity,
} from "../modules/webhook/webhook.entity";
import {
  AnalyticsPendingInstantEntity,
  SessionMinuteRollupEntity,
  SessionHourRollupEntity,
  SessionSecondRollupEntity,
} from "../modules/analytics/activity-rollup.entity";

/** Every entity, in one list shared by the app, the CLI scripts and the tests. */
export const ENTITIES = [
  CompanyEntity,
  ApiKeyEntity,
  PlatformAdminKeyEntity,
  EventEntity,
  EventPrincipalEntity,
  UserEntity,
  SigningKeyEntity,
  RevokedTokenEntity,
  RegistrantEntity,
  SessionEntity,
  AttendanceRollupEntity,
  SessionSecondRollupEntity,
  SessionMinuteRollupEntity,
  SessionHourRollupEntity,
  AnalyticsPendingInstantEntity,
  AttendanceEventRollupEntity,
  AttendanceValueRollupEntity,
  AnalyticsPendingAttendanceEntity,
  AttendanceSegmentEntity,
  AttendanceWindowMinuteEntity,
  AttendanceGapCellEntity,
  AnalyticsPendingWindowEntity,
  CompanyAttendeeEntity,
  RegistrantCountEntity,
  AnalyticsPendingRegistrantsEntity,
  LoginLinkEntity,
  PartnerSecretEntity,
  IdentityProviderEntity,
  JoinRequestEntity,
  AuthFailureEntity,
  UserPasswordEntity,
  SeatStripeEntity,
  ErasedSubjectEntity,
  EventOccupancyEntity,
  MasterKeyVerifierEntity,
  WebhookEndpointEntity,
  WebhookSubscriptionEntity,
  WebhookMessageEntity,
  WebhookDeliveryEntity,
];
