import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `auth_admit_password_check`: everything a password check writes before its hash, in one call
 * (src/auth/throttling/password-check.repository.ts): the client's budget of checks
 * (rate_limit_hits), the failure throttle (login_failures) and the account a login names. One
 * round trip instead of four, so that the advisory locks that make each count and insert one step
 * are held for the few statements inside the server and never across a round trip to the
 * application (logins from one address no longer queue one round trip apart), and its plans are
 * cached for the connection. The rules stay in the repository's documentation; this is their SQL.
 */
export class AdmitPasswordChecks1765300000000 implements MigrationInterface {
  name = 'AdmitPasswordChecks1765300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION auth_admit_password_check(
        p_budget_scopes text[], p_budget_keys text[], p_budget_window_starts timestamptz[],
        p_budget_maxes bigint[], p_budget_hit_ats timestamptz[], p_budget_expiries timestamptz[],
        p_account_key text, p_client text, p_window_start timestamptz,
        p_max_per_account bigint, p_max_per_client bigint, p_max_per_account_overall bigint,
        p_now timestamptz, p_lookup_email text)
      RETURNS TABLE (budget_reached timestamptz[], account_ip_at timestamptz, ip_at timestamptz,
                     account_at timestamptz, id uuid, email text, password_hash text,
                     email_verified_at timestamptz)
      LANGUAGE plpgsql VOLATILE AS $fn$
      #variable_conflict use_column
      BEGIN
        -- Counters: a crash may lose the last few hundred milliseconds of them, never a session.
        PERFORM set_config('synchronous_commit', 'off', true);
        -- Each budget key, then the client, then the account: always in this order.
        FOR i IN 1 .. coalesce(array_length(p_budget_scopes, 1), 0) LOOP
          PERFORM pg_advisory_xact_lock(
            hashtextextended('rate-limit:' || p_budget_scopes[i] || ':' || p_budget_keys[i], 0));
        END LOOP;
        PERFORM pg_advisory_xact_lock(hashtextextended('login-throttle:' || p_client, 0));
        PERFORM pg_advisory_xact_lock(hashtextextended('login-throttle-account:' || p_account_key, 0));
        -- A statement after the locks: its snapshot sees every check that held them before.
        RETURN QUERY
        WITH budget AS (
          SELECT b.ord, b.scope, b.key, b.hit_at, b.expires_at,
                 (SELECT h.hit_at FROM rate_limit_hits h
                   WHERE h.scope = b.scope AND h.key = b.key AND h.hit_at > b.window_start
                   ORDER BY h.hit_at DESC OFFSET b.max - 1 LIMIT 1) AS reached_at
            FROM unnest(p_budget_scopes, p_budget_keys, p_budget_window_starts, p_budget_maxes,
                        p_budget_hit_ats, p_budget_expiries)
                 WITH ORDINALITY AS b(scope, key, window_start, max, hit_at, expires_at, ord)
        ),
        budget_has_room AS (
          SELECT NOT EXISTS (SELECT 1 FROM budget WHERE reached_at IS NOT NULL) AS yes
        ),
        throttle AS (
          SELECT
            (SELECT f.failed_at FROM login_failures f
              WHERE f.account_key = p_account_key AND f.ip = p_client AND f.failed_at > p_window_start
              ORDER BY f.failed_at DESC OFFSET p_max_per_account - 1 LIMIT 1) AS account_ip_at,
            (SELECT f.failed_at FROM login_failures f
              WHERE f.ip = p_client AND f.failed_at > p_window_start
              ORDER BY f.failed_at DESC OFFSET p_max_per_client - 1 LIMIT 1) AS ip_at,
            (SELECT f.failed_at FROM login_failures f
              WHERE f.account_key = p_account_key AND f.failed_at > p_window_start
              ORDER BY f.failed_at DESC OFFSET p_max_per_account_overall - 1 LIMIT 1) AS account_at
        ),
        spent AS (
          INSERT INTO rate_limit_hits (scope, key, hit_at, expires_at)
          SELECT b.scope, b.key, b.hit_at, b.expires_at FROM budget b WHERE (SELECT yes FROM budget_has_room)
        ),
        attempted AS (
          INSERT INTO login_failures (account_key, ip, failed_at)
          SELECT p_account_key, p_client, p_now FROM throttle t
           WHERE (SELECT yes FROM budget_has_room)
             AND t.account_ip_at IS NULL AND t.ip_at IS NULL AND t.account_at IS NULL
        )
        SELECT (SELECT array_agg(b.reached_at ORDER BY b.ord) FROM budget b),
               t.account_ip_at, t.ip_at, t.account_at,
               u.id, u.email::text, u.password_hash, u.email_verified_at
          FROM throttle t LEFT JOIN users u ON u.email_canonical = p_lookup_email;
      END
      $fn$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION auth_admit_password_check(text[], text[], timestamptz[], bigint[], timestamptz[], timestamptz[],
         text, text, timestamptz, bigint, bigint, bigint, timestamptz, text)`,
    );
  }
}
