import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Every index gets the name its entity now gives it, instead of the hash TypeORM made of its table
 * and columns: idx_<table>_<what it finds>, where "list" is the (owner, created_at, id) keyset of
 * a paginated list. A rename only: the indexes are not rebuilt, and nothing refers to them by name
 * (ON CONFLICT names its columns). Primary and foreign keys keep their generated names.
 */
export class NamedIndexes1796561938525 implements MigrationInterface {
  name = "NamedIndexes1796561938525";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER INDEX "IDX_b28b07d25e4324eee577de5496" RENAME TO "idx_companies_slug"`);
    await queryRunner.query(`ALTER INDEX "IDX_8396859f08e7ad26726c9b3860" RENAME TO "idx_api_keys_company"`);
    await queryRunner.query(`ALTER INDEX "IDX_09463fdda47fdc3dedc26ffffa" RENAME TO "idx_api_keys_lookup"`);
    await queryRunner.query(`ALTER INDEX "IDX_6581bb487cf0d7a78d7ec35624" RENAME TO "idx_platform_admin_keys_lookup"`);
    await queryRunner.query(`ALTER INDEX "IDX_6b4f62be96c4cc42d436eb7396" RENAME TO "idx_events_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_839225f2cbcb7e9f1fbb81765c" RENAME TO "idx_events_company_slug"`);
    await queryRunner.query(`ALTER INDEX "IDX_a1840a7393f3a32942c99edda7" RENAME TO "idx_event_principals_email"`);
    await queryRunner.query(`ALTER INDEX "IDX_13029764bdd6ba47c8ae50989a" RENAME TO "idx_event_principals_external_id"`);
    await queryRunner.query(`ALTER INDEX "IDX_e23913f1339aaf9fc6bbb29144" RENAME TO "idx_users_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_e5b5ad476402293f06fea79217" RENAME TO "idx_users_email"`);
    await queryRunner.query(`ALTER INDEX "IDX_2960ab1cc5fb7a01dded59433b" RENAME TO "idx_users_external_id"`);
    await queryRunner.query(`ALTER INDEX "IDX_3f307a3adf66d7a5d48836399c" RENAME TO "idx_signing_keys_company_created"`);
    await queryRunner.query(`ALTER INDEX "IDX_ab7dbc99939373dc30ca40f259" RENAME TO "idx_signing_keys_current"`);
    await queryRunner.query(`ALTER INDEX "IDX_2e6633a828eeba000bb14f4de3" RENAME TO "idx_revoked_tokens_company_revoked"`);
    await queryRunner.query(`ALTER INDEX "IDX_6c2bcd0031d07995b4ee1961a0" RENAME TO "idx_sessions_user_joined"`);
    await queryRunner.query(`ALTER INDEX "IDX_5ce5d8b3ddd6c2d50ed4cf3fda" RENAME TO "idx_sessions_event_joined"`);
    await queryRunner.query(`ALTER INDEX "IDX_dd3ef4129ccd985a5c857874de" RENAME TO "idx_registrants_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_45920016f0299d78b21e664b0e" RENAME TO "idx_login_links_code_lookup"`);
    await queryRunner.query(`ALTER INDEX "IDX_1508c58bf306decb07a70f26de" RENAME TO "idx_login_links_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_b835af247844c20752250469fb" RENAME TO "idx_partner_secrets_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_74ccf3b1261531fce29c7e0f69" RENAME TO "idx_identity_providers_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_330cd3583bf79784ff95f2491d" RENAME TO "idx_identity_providers_issuer"`);
    await queryRunner.query(`ALTER INDEX "IDX_20a5e2037aa7b413f586e37a46" RENAME TO "idx_join_requests_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_e3b6b6987af1570adcaa784cea" RENAME TO "idx_webhook_endpoints_list"`);
    await queryRunner.query(`ALTER INDEX "IDX_3f867d0adaf5ef6a96eb4cccde" RENAME TO "idx_webhook_deliveries_list"`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER INDEX "idx_webhook_deliveries_list" RENAME TO "IDX_3f867d0adaf5ef6a96eb4cccde"`);
    await queryRunner.query(`ALTER INDEX "idx_webhook_endpoints_list" RENAME TO "IDX_e3b6b6987af1570adcaa784cea"`);
    await queryRunner.query(`ALTER INDEX "idx_join_requests_list" RENAME TO "IDX_20a5e2037aa7b413f586e37a46"`);
    await queryRunner.query(`ALTER INDEX "idx_identity_providers_issuer" RENAME TO "IDX_330cd3583bf79784ff95f2491d"`);
    await queryRunner.query(`ALTER INDEX "idx_identity_providers_list" RENAME TO "IDX_74ccf3b1261531fce29c7e0f69"`);
    await queryRunner.query(`ALTER INDEX "idx_partner_secrets_list" RENAME TO "IDX_b835af247844c20752250469fb"`);
    await queryRunner.query(`ALTER INDEX "idx_login_links_list" RENAME TO "IDX_1508c58bf306decb07a70f26de"`);
    await queryRunner.query(`ALTER INDEX "idx_login_links_code_lookup" RENAME TO "IDX_45920016f0299d78b21e664b0e"`);
    await queryRunner.query(`ALTER INDEX "idx_registrants_list" RENAME TO "IDX_dd3ef4129ccd985a5c857874de"`);
    await queryRunner.query(`ALTER INDEX "idx_sessions_event_joined" RENAME TO "IDX_5ce5d8b3ddd6c2d50ed4cf3fda"`);
    await queryRunner.query(`ALTER INDEX "idx_sessions_user_joined" RENAME TO "IDX_6c2bcd0031d07995b4ee1961a0"`);
    await queryRunner.query(`ALTER INDEX "idx_revoked_tokens_company_revoked" RENAME TO "IDX_2e6633a828eeba000bb14f4de3"`);
    await queryRunner.query(`ALTER INDEX "idx_signing_keys_current" RENAME TO "IDX_ab7dbc99939373dc30ca40f259"`);
    await queryRunner.query(`ALTER INDEX "idx_signing_keys_company_created" RENAME TO "IDX_3f307a3adf66d7a5d48836399c"`);
    await queryRunner.query(`ALTER INDEX "idx_users_external_id" RENAME TO "IDX_2960ab1cc5fb7a01dded59433b"`);
    await queryRunner.query(`ALTER INDEX "idx_users_email" RENAME TO "IDX_e5b5ad476402293f06fea79217"`);
    await queryRunner.query(`ALTER INDEX "idx_users_list" RENAME TO "IDX_e23913f1339aaf9fc6bbb29144"`);
    await queryRunner.query(`ALTER INDEX "idx_event_principals_external_id" RENAME TO "IDX_13029764bdd6ba47c8ae50989a"`);
    await queryRunner.query(`ALTER INDEX "idx_event_principals_email" RENAME TO "IDX_a1840a7393f3a32942c99edda7"`);
    await queryRunner.query(`ALTER INDEX "idx_events_company_slug" RENAME TO "IDX_839225f2cbcb7e9f1fbb81765c"`);
    await queryRunner.query(`ALTER INDEX "idx_events_list" RENAME TO "IDX_6b4f62be96c4cc42d436eb7396"`);
    await queryRunner.query(`ALTER INDEX "idx_platform_admin_keys_lookup" RENAME TO "IDX_6581bb487cf0d7a78d7ec35624"`);
    await queryRunner.query(`ALTER INDEX "idx_api_keys_lookup" RENAME TO "IDX_09463fdda47fdc3dedc26ffffa"`);
    await queryRunner.query(`ALTER INDEX "idx_api_keys_company" RENAME TO "IDX_8396859f08e7ad26726c9b3860"`);
    await queryRunner.query(`ALTER INDEX "idx_companies_slug" RENAME TO "IDX_b28b07d25e4324eee577de5496"`);
  }
}
