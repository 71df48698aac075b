#!/usr/bin/env bash
# npm run test:pg15: the purge specs, the revocation-state specs, the new-device check (inet
# arithmetic) and the email identity spec (a C.UTF-8 database, where lower() and JavaScript fold
# differently) against PostgreSQL 15 (Debian's postgresql-15), besides the embedded PostgreSQL 18
# of `npm test`. Extra arguments go to Jest.
set -euo pipefail
cd "$(dirname "$0")/.."
specs=(
  test/purge.e2e-spec.ts
  test/purge-plan.e2e-spec.ts
  test/multi-instance.e2e-spec.ts
  test/migrations.e2e-spec.ts
  test/email-identity.e2e-spec.ts
  test/revocation-sync.e2e-spec.ts
  test/account-deletion.e2e-spec.ts
  test/races.e2e-spec.ts
  test/new-device-alerts.e2e-spec.ts
)
exec bash scripts/with-pg15.sh node --experimental-vm-modules node_modules/jest/bin/jest.js "${specs[@]}" "$@"
