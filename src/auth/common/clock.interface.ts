/** Source of the current time. Injected so that expiry and purges can be tested without sleeping. */
export interface Clock {
  now(): Date;
}
