import {
  Column,
  CreateDateColumn,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  Relation,
} from "typeorm";
import { CompanyEntity } from "../company/company.entity";

/** The event types a company's backend can be told about, as they appear in a message's `type`. */
export const WEBHOOK_EVENT_TYPES = [
  "session.started",
  "session.ended",
  "session.role_changed",
  "registrant.created",
  "registrant.cancelled",
  "join_request.created",
  "join_request.decided",
  "user.created",
  "event.ended",
] as const;
export type WebhookEventTypeValue = (typeof WEBHOOK_EVENT_TYPES)[number];
/** sendTestWebhook's message type: never subscribed to, sent to one endpoint on demand. */
export const WEBHOOK_TEST_TYPE = "webhook.test";

export const WEBHOOK_DELIVERY_STATUSES = ["PENDING", "DELIVERED", "FAILED"] as const;
export type WebhookDeliveryStatusValue = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * Where a company wants to be told. The signing secret is encrypted under the master key (the id
 * as associated data), like partner secrets: signing needs the secret itself. After a rotation
 * the previous secret keeps signing beside the new one until previousSecretExpiresAt.
 */
@Entity({ name: "webhook_endpoints" })
@Index("idx_webhook_endpoints_list", ["companyId", "createdAt", "id"])
export class WebhookEndpointEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @Column({ type: "varchar", length: 2048 })
  url: string;

  @Column({ type: "varchar", length: 500, nullable: true })
  description: string | null;

  @Column({ type: "text", array: true })
  eventTypes: string[];

  @Column({ type: "text" })
  secretEncrypted: string;

  @Column({ type: "text", nullable: true })
  previousSecretEncrypted: string | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  disabledAt: Date | null;

  @Column({ type: "varchar", length: 500, nullable: true })
  disabledReason: string | null;

  /** Since when every delivery attempt failed; null after any success. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  failingSince: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Column({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}

/**
 * The event types someone listens to, per company: kept by a trigger on webhook_endpoints, read
 * by the row triggers of the reported tables so that a company without endpoints costs a join
 * one index lookup and no write.
 */
@Entity({ name: "webhook_subscriptions" })
export class WebhookSubscriptionEntity {
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "text", array: true })
  eventTypes: string[];
}

/**
 * The transactional outbox: one row per thing that happened, written by a row trigger in the
 * transaction that made the change (a rollback leaves none). Fanned out to the endpoints that
 * listen by the delivery workers. The id is the `webhook-id` receivers deduplicate on.
 */
@Entity({ name: "webhook_messages" })
@Index("idx_webhook_messages_unfanned", ["seq"], { where: "NOT fanned_out" })
@Index("idx_webhook_messages_user", ["userId"], { where: "user_id IS NOT NULL" })
export class WebhookMessageEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Commit-ish order: deliveries of one ordering key go out in this order. */
  @Column({ type: "bigint" })
  @Generated("increment")
  seq: string;

  /** No foreign key: the join's trigger writes this row, and a key check would lock the company's row too. */
  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "varchar", length: 40 })
  type: string;

  /** Messages with the same key (the Admit event's id; the user's for user.created) are delivered in order. */
  @Column({ type: "varchar", length: 80 })
  orderingKey: string;

  /** The user the payload names, so that erasing a user finds the payloads to scrub. */
  @Column({ type: "uuid", nullable: true })
  userId: string | null;

  @Column({ type: "jsonb" })
  data: Record<string, unknown>;

  @Column({ type: "timestamptz", precision: 3 })
  occurredAt: Date;

  @Column({ type: "boolean", default: false })
  fannedOut: boolean;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}

/** One message to one endpoint: its attempts, its outcome. */
@Entity({ name: "webhook_deliveries" })
@Index("idx_webhook_deliveries_list", ["endpointId", "createdAt", "id"])
@Index("idx_webhook_deliveries_due", ["nextAttemptAt"], { where: "status = 'PENDING'" })
@Index("idx_webhook_deliveries_pending_order", ["endpointId", "orderingKey", "seq"], { where: "status = 'PENDING'" })
export class WebhookDeliveryEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  endpointId: string;

  @ManyToOne(() => WebhookEndpointEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "endpoint_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  endpoint?: Relation<WebhookEndpointEntity>;

  @Column({ type: "uuid" })
  messageId: string;

  @ManyToOne(() => WebhookMessageEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "message_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  message?: Relation<WebhookMessageEntity>;

  /** The message's seq, copied so the ordering check reads one index. */
  @Column({ type: "bigint" })
  seq: string;

  @Column({ type: "varchar", length: 80 })
  orderingKey: string;

  @Column({ type: "varchar", length: 16, default: "PENDING" })
  status: WebhookDeliveryStatusValue;

  @Column({ type: "integer", default: 0 })
  attempts: number;

  @Column({ type: "timestamptz", precision: 3 })
  nextAttemptAt: Date;

  /** A worker holds the delivery until then; a node killed mid-delivery lets it go when it passes. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lockedUntil: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lastAttemptAt: Date | null;

  @Column({ type: "integer", nullable: true })
  lastResponseCode: number | null;

  @Column({ type: "varchar", length: 300, nullable: true })
  lastError: string | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  deliveredAt: Date | null;

  @Column({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
