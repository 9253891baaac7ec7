import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * Elasticsearch's stored {@code _id} encoding (a port of ES {@code org.elasticsearch.index.mapper.Uid}), so the
 * oracle writes ids exactly as an Elasticsearch 6.0+ shard does: numeric ids as packed nibbles after 0xFE, URL-safe
 * base64 ids as their decoded bytes (escaped with 0xFD when the first byte would collide with a marker), anything
 * else as 0xFF + UTF-8.
 */
final class Uid {
    private static final int UTF8 = 0xff;
    private static final int NUMERIC = 0xfe;
    private static final int BASE64_ESCAPE = 0xfd;

    private Uid() {}

    /** Whether ES would treat {@code id} as unpadded URL-safe base64 (canonical only: the trailing bits are zero). */
    static boolean isUrlBase64WithoutPadding(String id) {
        int length = id.length();
        switch (length & 3) {
            case 0:
                break;
            case 1:
                return false;
            case 2:
                if ("AQgw".indexOf(id.charAt(length - 1)) < 0) {
                    return false;
                }
                break;
            default:
                if ("AEIMQUYcgkosw048".indexOf(id.charAt(length - 1)) < 0) {
                    return false;
                }
        }
        for (int i = 0; i < length; i++) {
            char c = id.charAt(i);
            boolean allowed = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                || c == '-' || c == '_';
            if (!allowed) {
                return false;
            }
        }
        return true;
    }

    static boolean isPositiveNumeric(String id) {
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** Encodes an id for the stored {@code _id} field. */
    static byte[] encodeId(String id) {
        if (id.isEmpty()) {
            throw new IllegalArgumentException("Ids can't be empty");
        }
        if (isPositiveNumeric(id)) {
            byte[] b = new byte[1 + (id.length() + 1) / 2];
            b[0] = (byte) NUMERIC;
            for (int i = 0; i < id.length(); i += 2) {
                int hi = id.charAt(i) - '0';
                // 0x0f marks the end of an odd-length id.
                int lo = i + 1 == id.length() ? 0x0f : id.charAt(i + 1) - '0';
                b[1 + i / 2] = (byte) ((hi << 4) | lo);
            }
            return b;
        }
        if (isUrlBase64WithoutPadding(id)) {
            byte[] b = Base64.getUrlDecoder().decode(id);
            if (b.length > 0 && Byte.toUnsignedInt(b[0]) >= BASE64_ESCAPE) {
                byte[] escaped = new byte[b.length + 1];
                escaped[0] = (byte) BASE64_ESCAPE;
                System.arraycopy(b, 0, escaped, 1, b.length);
                return escaped;
            }
            return b;
        }
        byte[] utf8 = id.getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[utf8.length + 1];
        b[0] = (byte) UTF8;
        System.arraycopy(utf8, 0, b, 1, utf8.length);
        return b;
    }

    /** Decodes a stored {@code _id} back to the id string. */
    static String decodeId(byte[] bytes, int offset, int length) {
        if (length == 0) {
            throw new IllegalArgumentException("Ids can't be empty");
        }
        int magic = Byte.toUnsignedInt(bytes[offset]);
        if (magic == NUMERIC) {
            StringBuilder sb = new StringBuilder((length - 1) * 2);
            for (int i = 1; i < length; i++) {
                int b = Byte.toUnsignedInt(bytes[offset + i]);
                sb.append((char) ((b >>> 4) + '0'));
                if (i == length - 1 && (b & 0x0f) == 0x0f) {
                    break;
                }
                sb.append((char) ((b & 0x0f) + '0'));
            }
            return sb.toString();
        }
        if (magic == UTF8) {
            return new String(bytes, offset + 1, length - 1, StandardCharsets.UTF_8);
        }
        int start = magic == BASE64_ESCAPE ? offset + 1 : offset;
        byte[] raw = Arrays.copyOfRange(bytes, start, offset + length);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }
}
