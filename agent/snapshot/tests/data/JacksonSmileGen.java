import com.fasterxml.jackson.core.*;
import com.fasterxml.jackson.dataformat.smile.*;
import java.io.*;
import java.math.*;
import java.nio.file.*;

public class JacksonSmileGen {
    interface W { void run(JsonGenerator g, boolean json) throws IOException; }

    static void content(JsonGenerator g, boolean json) throws IOException {
        g.writeStartObject();
        g.writeStringField("", "empty name");
        g.writeStringField("e", "");
        g.writeNumberField("i0", 0);
        g.writeNumberField("i15", -16);
        g.writeNumberField("i32", Integer.MIN_VALUE);
        g.writeNumberField("i64", Long.MAX_VALUE);
        g.writeNumberField("i64n", Long.MIN_VALUE);
        g.writeNumberField("f", 1.5f);
        g.writeNumberField("fn", -0.25f);
        g.writeNumberField("d", 3.141592653589793);
        g.writeNumberField("dn", -1e300);
        BigInteger big = BigInteger.ONE.shiftLeft(70).negate().add(BigInteger.valueOf(12345));
        g.writeFieldName("big");
        if (json) g.writeString(big.toString()); else g.writeNumber(big);
        BigDecimal dec = new BigDecimal("-98765432109876543210.0123456789");
        g.writeFieldName("dec");
        if (json) g.writeString(dec.toPlainString()); else g.writeNumber(dec);
        BigDecimal dec2 = new BigDecimal(new BigInteger("5"), -3);
        g.writeFieldName("dec2");
        if (json) g.writeString(dec2.toPlainString()); else g.writeNumber(dec2);
        g.writeBooleanField("t", true);
        g.writeBooleanField("fa", false);
        g.writeNullField("nul");
        byte[] bin = new byte[300];
        for (int i = 0; i < bin.length; i++) bin[i] = (byte) (i * 37 + 11);
        for (int n : new int[] {0, 1, 6, 7, 8, 13, 14, 300}) {
            g.writeFieldName("bin" + n);
            g.writeBinary(java.util.Arrays.copyOf(bin, n));
        }
        StringBuilder longAscii = new StringBuilder();
        for (int i = 0; i < 100; i++) longAscii.append((char) ('a' + i % 26));
        g.writeStringField("long", longAscii.toString());
        g.writeStringField("longu", "é€𝄞" + longAscii);
        g.writeStringField("tinyu", "é");
        g.writeStringField("u64", "ü".repeat(32));
        g.writeStringField("a64", "x".repeat(64));
        g.writeStringField("a65", "y".repeat(65));
        String longName = "n".repeat(80);
        String uniName = "ñ".repeat(30); // 60 UTF-8 bytes: a long (0x34) name
        g.writeArrayFieldStart("repeat");
        for (int r = 0; r < 3; r++) {
            g.writeStartObject();
            g.writeStringField(longName, "shared value " + (r % 2));
            g.writeStringField(uniName, "ñandú");
            g.writeStringField("k", "x".repeat(64));
            g.writeEndObject();
        }
        g.writeEndArray();
        // More than 1024 distinct names and values force both shared tables to start over.
        g.writeArrayFieldStart("many");
        for (int r = 0; r < 2; r++) {
            for (int i = 0; i < 1300; i++) {
                g.writeStartObject();
                g.writeStringField("name" + i, "value" + (i % 1100));
                g.writeEndObject();
            }
        }
        g.writeEndArray();
        g.writeFieldName("nested");
        for (int i = 0; i < 50; i++) { g.writeStartArray(); }
        g.writeStartObject(); g.writeEndObject();
        for (int i = 0; i < 50; i++) { g.writeEndArray(); }
        g.writeEndObject();
    }

    static void write(String path, boolean shared, boolean sevenBit) throws IOException {
        SmileFactory f = new SmileFactory();
        f.configure(SmileGenerator.Feature.CHECK_SHARED_STRING_VALUES, shared);
        f.configure(SmileGenerator.Feature.CHECK_SHARED_NAMES, true);
        f.configure(SmileGenerator.Feature.ENCODE_BINARY_AS_7BIT, sevenBit);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = f.createGenerator(out)) { content(g, false); }
        Files.write(Paths.get(path + ".smile"), out.toByteArray());
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = new JsonFactory().createGenerator(json)) { content(g, true); }
        Files.write(Paths.get(path + ".json"), json.toByteArray());
    }

    public static void main(String[] args) throws Exception {
        write(args[0] + "/jackson_shared_7bit", true, true);
        write(args[0] + "/jackson_raw_binary", false, false);
    }
}
