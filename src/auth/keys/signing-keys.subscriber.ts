import { Injectable } from '@nestjs/common';
import {
  type ChannelHint,
  type ChannelSubscriber,
  NotificationListener,
} from '../notifications/notification-listener.service.js';
import { SigningKeys } from './signing-keys.service.js';

/**
 * Keys travel like revocations: a change to signing_keys is announced on the channel, and the keys
 * are read again after every reconnection, with the same fail-closed listener.
 */
@Injectable()
export class SigningKeysSubscriber implements ChannelSubscriber {
  constructor(
    private readonly listener: NotificationListener,
    private readonly keys: SigningKeys,
  ) {
    listener.subscribe(this);
  }

  receive(hint: ChannelHint, epoch: number): void {
    if (hint.kind !== 'keys') return;
    this.keys.keysChanged().catch((error: Error) => {
      this.listener.fail(epoch, `could not reload the signing keys: ${error.message}`);
    });
  }

  resync(): Promise<void> {
    return this.keys.reloadAfterReconnect();
  }

  lost(): void {}
}
