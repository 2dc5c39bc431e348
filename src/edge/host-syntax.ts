// The Host header must be an authority without userinfo: reg-name or IP literal, optional port
// (RFC 9110 §7.2, RFC 3986 §3.2). Anything else ("a.example/evil", "user@evil", spaces) is refused
// before it can reach routing, X-Forwarded-Host, Forwarded or a preserved upstream Host.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]{0,5})?$/;

export function isValidHostHeader(value: string): boolean {
  return value.length <= 255 && HOST.test(value);
}
