// Headers a policy wants on the gateway's own answers too — errors (502, 504, …) and a later
// policy's verdict — which skip the response phase: a flat [name, value, …] list in the request's
// locals under this key.
export const ERROR_HEADERS = 'gateway.error-headers';
