// Config fields shared by the policies that verify a bearer token (jwt, oauth2-introspection):
// what to do with an unknown consumer, claim headers, where the token is, per-method
// requirements, the anonymous fallback and hiding the credential.
import { z } from 'zod';
import { Anonymous, HideCredentials } from './auth-options.js';
import { RequirementFields } from './requirements.js';
import { ClaimHeaders, TokenSourceFields } from './token-source.js';

export const UnknownConsumer = z.enum(['reject', 'anonymous']).default('reject').meta({
  description: 'A verified token whose consumerClaim names no consumer: refuse it (401), or pass it as an identity without consumer.',
});

export const TokenPolicyFields = {
  unknownConsumer: UnknownConsumer,
  claimHeaders: ClaimHeaders,
  ...TokenSourceFields,
  ...RequirementFields,
  anonymous: Anonymous,
  hideCredentials: HideCredentials,
};
