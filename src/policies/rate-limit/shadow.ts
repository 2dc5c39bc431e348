// The request-local mark a rate-limit policy in shadow mode leaves when it would have refused:
// the access log reports it as `shadowLimited` (the limit's name).
export const SHADOW_LIMITED = 'rate-limit.shadow-limited';
