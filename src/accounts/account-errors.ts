// A refresh that did not give a usable token, as the error catalogue says it to an API caller:
// the one mapping for the credential read and the admin's forced refresh.
import { ApiError, notFound } from '../errors.ts';
import { OPERATOR_FAILURES, type RefreshFailure } from './refresh-outcome.ts';

export function refreshFailureError(failure: RefreshFailure): ApiError {
  switch (failure.kind) {
    case 'dead':
      return new ApiError('account_dead', 'the account needs to be reconnected: its credentials can no longer be refreshed', { details: { reconnect: true } });
    case 'unavailable':
      if (OPERATOR_FAILURES.has(failure.code)) {
        return new ApiError('provider_error', 'the provider rejected the oauth client used for this account; an operator must check the oauth app', {
          details: { operator_action_required: true },
        });
      }
      return new ApiError('provider_unavailable', 'the provider could not refresh the token; retry later, the account does not need a reconnect', {
        retryAfterSeconds: failure.retryAfterSeconds,
      });
    case 'busy':
      return new ApiError(
        'refresh_in_progress',
        failure.reason === 'lease_lost' ? 'the refresh could not be stored; retry shortly' : 'another refresh of this account is still running; retry shortly',
        { retryAfterSeconds: failure.retryAfterSeconds },
      );
    case 'gone':
      return notFound('account');
    case 'unrefreshable':
      return new ApiError(
        'conflict',
        failure.reason === 'not_oauth' ? 'only oauth accounts can be refreshed' : 'the account has no refresh token, so it cannot be refreshed',
      );
  }
}
