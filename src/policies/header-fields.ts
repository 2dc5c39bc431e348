// Header names and values as a config may write them for the gateway to send (RFC 9110 §5.1,
// §5.5). A CR or LF in a value would split one header into two on the wire (node refuses to send
// it, so every request on the route would fail); refused when the config is validated instead.
import { z } from 'zod';

export const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a valid header name' });

// node sends only tab, space, visible ASCII and obs-text (0x80-0xFF) and throws on anything else;
// the second check names the rest (other control characters, DEL, characters past Latin-1).
export const HeaderValue = z
  .string()
  .regex(/^[^\r\n\0]*$/, { error: 'a header value cannot contain CR, LF or NUL' })
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it rejects
  .regex(/^[^\x01-\x08\x0b\x0c\x0e-\x1f\x7f\u0100-\uffff]*$/, {
    error:
      'a header value may hold only tab, space, visible ASCII and Latin-1 characters (no other control characters, no DEL, nothing past U+00FF)',
  });
