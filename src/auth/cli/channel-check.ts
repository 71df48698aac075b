import type { INestApplicationContext } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool } from '../common/driver-pool.js';
import { NotificationListener } from '../notifications/notification-listener.service.js';
import { NotificationSigner } from '../notifications/notification-signer.js';
import { REVOCATION_CHANNEL } from '../revocation/revocation-events.js';

/** How long the CLI listens for the running instances' heartbeats (they beat every 500 ms by default). */
export const CHANNEL_CHECK_MS = 1_500;

export type ChannelCheck = 'heard' | 'no-instance-heard' | 'mismatch';

/**
 * Before a command announces a revocation: are the running instances on the key the CLI signs
 * with? Instances drop an announcement signed with a key they do not hold (that is what makes a
 * forged one cheap), so a CLI given another secret than the app's would revoke in the database
 * while every running instance kept accepting the tokens from memory. Each instance's listener
 * sends a signed heartbeat every `revocationHeartbeatMs`: the CLI listens for one, for at most
 * CHANNEL_CHECK_MS.
 *
 * - `heard`: a heartbeat was signed with the very key the CLI signs with, so the instance that
 *   sent it accepts the CLI's announcement (stops listening at once).
 * - `mismatch`: signed heartbeats came, none with that key: refuse, change nothing.
 * - `no-instance-heard`: nothing signed came (no instance running, or the connection goes
 *   through a transaction pooler that does not carry notifications): go on; instances that start
 *   later load the revocation from the database.
 */
export async function checkChannelKey(app: INestApplicationContext, waitMs = CHANNEL_CHECK_MS): Promise<ChannelCheck> {
  const signer = app.get(NotificationSigner, { strict: false });
  // The example app's CLI is the app itself, listening and beating: its own heartbeats say nothing.
  const own = ownHeartbeats(app);
  const dataSource = app.get<DataSource>(getDataSourceToken(), { strict: false });
  const client = await driverPool(dataSource).connect();
  let foreign = 0;
  try {
    return await new Promise<ChannelCheck>((resolve, reject) => {
      const timer = setTimeout(() => resolve(foreign > 0 ? 'mismatch' : 'no-instance-heard'), waitMs);
      client.on('notification', (message: { channel: string; payload?: string }) => {
        if (message.channel !== REVOCATION_CHANNEL || !isSignedHeartbeat(message.payload)) return;
        if (own(HEARTBEAT_NONCE.exec(message.payload)?.[1] ?? '')) return;
        if (signer.signedWithSigningKey(message.payload)) {
          clearTimeout(timer);
          resolve('heard');
        } else {
          foreign += 1;
        }
      });
      client.query(`LISTEN ${REVOCATION_CHANNEL}`).catch((error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } finally {
    client.removeAllListeners('notification');
    // The connection listened: it goes, rather than back to the pool with a LISTEN on it.
    client.release(true);
  }
}

const HEARTBEAT_NONCE = /^\{"k":"h","n":"([^"]{1,100})"/;

function ownHeartbeats(app: INestApplicationContext): (nonce: string) => boolean {
  try {
    const listener = app.get(NotificationListener, { strict: false });
    return (nonce) => listener.isOwnHeartbeat(nonce);
  } catch {
    // The operator role has no listener.
    return () => false;
  }
}

/** A heartbeat with a tag: `{"k":"h","n":"…","m":"…"}` (a verifier without a key sends it untagged). */
function isSignedHeartbeat(payload: string | undefined): payload is string {
  return typeof payload === 'string' && payload.startsWith('{"k":"h",') && payload.includes(',"m":"');
}
