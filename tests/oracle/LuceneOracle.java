import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FilterCodecReader;
import org.apache.lucene.index.FilterLeafReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MergePolicy;
import org.apache.lucene.index.SegmentReader;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.SoftDeletesDirectoryReaderWrapper;
import org.apache.lucene.index.SoftDeletesRetentionMergePolicy;
import org.apache.lucene.index.StoredFieldVisitor;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.Version;

/**
 * Ground truth for Ferry's Lucene reader: writes indices the way an Elasticsearch shard does (Uid-encoded
 * {@code _id}, binary {@code _source}, {@code _routing}, seq-no doc values, hard or soft deletes) and lists the live
 * documents exactly as Lucene sees them.
 *
 * <p>The same sources serve every Lucene version: what differs between Lucene 8 and Lucene 9+ (codec classes, the
 * stored-fields read API) sits in one {@code Compat} class per API generation ({@code lucene8/}, {@code lucene9/}),
 * compiled together with these files. The Lucene 9 build also runs unchanged on Lucene 10.
 *
 * <pre>
 *   generate DIR --config NAME [--list FILE]
 *                                     write the named deterministic index into the empty/absent DIR (and list it)
 *   list DIR                          one JSON line per live doc: _id, [_routing], _source_base64, segment, doc
 *   configs                           print the names of the configs this Lucene version can write
 *   version                           print the running Lucene version and its default codec
 *   bench-generate DIR --mode M --docs N   ~1 KB JSON docs, soft deletes with updates (M = speed|compression)
 *   bench-read DIR [--runs R]         sequential merge-instance read of every live doc; best of R, JSON summary
 * </pre>
 */
public final class LuceneOracle {
    static final String SOFT_DELETES = "__soft_deletes";

    private LuceneOracle() {}

    /** How the stored fields of a config are written; {@code Compat.codec} maps each to a codec. */
    enum Stored {
        /** The default codec's BEST_SPEED: LZ4 with preset dictionaries (what ES writes by default). */
        SPEED,
        /** The default codec's BEST_COMPRESSION: DEFLATE with preset dictionaries ({@code best_compression}). */
        COMPRESSION,
        /** LZ4 with tiny chunks (Lucene 8: the Lucene 8.6 plain-LZ4 format; 9+: the current format). */
        LZ4_TINY,
        /** DEFLATE with tiny chunks (Lucene 8: the Lucene 8.6 plain-DEFLATE format; 9+: the current format). */
        DEFLATE_TINY,
        /** Elasticsearch 8.14+ {@code Zstd814StoredFieldsFormat} BEST_SPEED (zstd level 0), Lucene 9+ only. */
        ES_ZSTD_SPEED,
        /** Elasticsearch 8.14+ {@code Zstd814StoredFieldsFormat} BEST_COMPRESSION (zstd level 3), Lucene 9+ only. */
        ES_ZSTD_COMPRESSION,
        /** OpenSearch custom-codecs {@code zstd} (dictionary + sub-blocks), Lucene 9+ only. */
        OS_ZSTD,
        /** OpenSearch custom-codecs {@code zstd_no_dict}, Lucene 9+ only. */
        OS_ZSTD_NO_DICT,
        /** OpenSearch {@code zstd} under the k-NN plugin's codec name, Lucene 9+ only. */
        KNN_ZSTD
    }

    /** One named, deterministic index shape. */
    static final class Config {
        final Stored stored;
        final boolean compound;
        final boolean soft;
        final int docs;
        final int flushEvery;
        final boolean forceMerge;
        final int bigDocs;

        Config(Stored stored, boolean compound, boolean soft, int docs, int flushEvery, boolean forceMerge,
               int bigDocs) {
            this.stored = stored;
            this.compound = compound;
            this.soft = soft;
            this.docs = docs;
            this.flushEvery = flushEvery;
            this.forceMerge = forceMerge;
            this.bigDocs = bigDocs;
        }
    }

    static final Map<String, Config> CONFIGS = new TreeMap<>();

    static {
        for (Stored s : new Stored[] {Stored.SPEED, Stored.COMPRESSION}) {
            String mode = s == Stored.SPEED ? "speed" : "compression";
            for (boolean cfs : new boolean[] {true, false}) {
                for (boolean soft : new boolean[] {true, false}) {
                    String name = mode + "-" + (cfs ? "cfs" : "nocfs") + "-" + (soft ? "soft" : "hard");
                    // Every other config also force-merges mid-way, so merged segments (and, with soft deletes,
                    // retained soft-deleted docs in the base doc values) are covered too.
                    boolean merge = cfs == soft;
                    CONFIGS.put(name, new Config(s, cfs, soft, 1500, 130, merge, 2));
                }
            }
        }
        CONFIGS.put("lz4-tiny", new Config(Stored.LZ4_TINY, false, true, 1200, 150, true, 1));
        CONFIGS.put("deflate-tiny", new Config(Stored.DEFLATE_TINY, true, false, 1200, 150, true, 1));
        CONFIGS.put("large", new Config(Stored.SPEED, false, true, 40000, 6000, true, 0));
        // ES 8+ and OpenSearch 2+ shards always use soft deletes; compound files vary with segment size.
        CONFIGS.put("es-zstd-speed", new Config(Stored.ES_ZSTD_SPEED, false, true, 1500, 130, true, 2));
        CONFIGS.put("es-zstd-compression", new Config(Stored.ES_ZSTD_COMPRESSION, true, true, 1500, 130, false, 2));
        CONFIGS.put("os-zstd", new Config(Stored.OS_ZSTD, true, true, 1500, 130, true, 2));
        CONFIGS.put("os-zstd-no-dict", new Config(Stored.OS_ZSTD_NO_DICT, false, true, 1500, 130, false, 2));
        CONFIGS.put("knn-zstd", new Config(Stored.KNN_ZSTD, false, true, 1500, 130, true, 1));
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "generate":
                generate(Paths.get(arg(args, 1)), option(args, "--config"));
                String listing = optionOr(args, "--list", null);
                if (listing != null) {
                    listTo(Paths.get(arg(args, 1)), Paths.get(listing));
                }
                break;
            case "list":
                PrintStream out = stdout();
                list(Paths.get(arg(args, 1)), out);
                out.flush();
                break;
            case "configs":
                for (Map.Entry<String, Config> config : CONFIGS.entrySet()) {
                    if (Compat.supports(config.getValue().stored)) {
                        System.out.println(config.getKey());
                    }
                }
                break;
            case "version":
                System.out.println(Version.LATEST + " " + Codec.getDefault().getName());
                break;
            case "bench-generate":
                LuceneBench.generate(Paths.get(arg(args, 1)), option(args, "--mode"),
                    Integer.parseInt(option(args, "--docs")));
                break;
            case "bench-read":
                String runs = optionOr(args, "--runs", "3");
                LuceneBench.read(Paths.get(arg(args, 1)), Integer.parseInt(runs));
                break;
            default:
                usage();
        }
    }

    private static void usage() {
        System.err.println("usage: LuceneOracle generate DIR --config NAME [--list FILE] | list DIR | configs"
            + " | version"
            + " | bench-generate DIR --mode speed|compression --docs N | bench-read DIR [--runs R]");
        System.exit(2);
    }

    static String arg(String[] args, int i) {
        if (args.length <= i) {
            usage();
        }
        return args[i];
    }

    static String option(String[] args, String name) {
        String value = optionOr(args, name, null);
        if (value == null) {
            System.err.println("missing option " + name);
            usage();
        }
        return value;
    }

    static String optionOr(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }

    static IndexWriterConfig writerConfig(Codec codec, boolean compound, boolean soft, AtomicLong retainFrom) {
        IndexWriterConfig iwc = new IndexWriterConfig();
        iwc.setCodec(codec);
        iwc.setUseCompoundFile(compound);
        iwc.setMergeScheduler(new SerialMergeScheduler());
        iwc.setRAMBufferSizeMB(512);
        iwc.setMaxBufferedDocs(IndexWriterConfig.DISABLE_AUTO_FLUSH);
        TieredMergePolicy tiered = new TieredMergePolicy();
        tiered.setNoCFSRatio(compound ? 1.0 : 0.0);
        MergePolicy policy = tiered;
        if (soft) {
            iwc.setSoftDeletesField(SOFT_DELETES);
            // Like ES: merges keep soft-deleted docs whose seq_no is above the retention point.
            policy = new SoftDeletesRetentionMergePolicy(SOFT_DELETES,
                () -> LongPoint.newRangeQuery("_seq_no", retainFrom.get(), Long.MAX_VALUE), tiered);
        }
        iwc.setMergePolicy(policy);
        return iwc;
    }

    /** Per-index writer state shared by the generator and the benchmark writer. */
    static final class EsWriter {
        final IndexWriter writer;
        final boolean soft;
        long seqNo;

        EsWriter(IndexWriter writer, boolean soft) {
            this.writer = writer;
            this.soft = soft;
        }

        Field softDelete() {
            return new NumericDocValuesField(SOFT_DELETES, 1);
        }

        void addMeta(Document doc, long version) {
            long seq = seqNo++;
            doc.add(new LongPoint("_seq_no", seq));
            doc.add(new NumericDocValuesField("_seq_no", seq));
            doc.add(new NumericDocValuesField("_primary_term", 1));
            doc.add(new NumericDocValuesField("_version", version));
        }

        void index(Document doc) throws IOException {
            writer.addDocument(doc);
        }

        void update(String id, Document doc) throws IOException {
            Term term = new Term("_id", new BytesRef(Uid.encodeId(id)));
            if (soft) {
                writer.softUpdateDocument(term, doc, softDelete());
            } else {
                writer.updateDocument(term, doc);
            }
        }

        void delete(String id, boolean tombstone, long version) throws IOException {
            Term term = new Term("_id", new BytesRef(Uid.encodeId(id)));
            if (!soft) {
                writer.deleteDocuments(term);
            } else if (tombstone) {
                // ES's delete tombstone: id and seq-no metadata, no _source, itself soft-deleted.
                Document doc = new Document();
                doc.add(new StringField("_id", new BytesRef(Uid.encodeId(id)), Field.Store.YES));
                addMeta(doc, version);
                doc.add(new NumericDocValuesField("_tombstone", 1));
                doc.add(softDelete());
                writer.softUpdateDocument(term, doc, softDelete());
            } else {
                seqNo++;
                writer.updateDocValues(term, softDelete());
            }
        }
    }

    static void generate(Path dir, String name) throws IOException {
        Config config = CONFIGS.get(name);
        if (config == null) {
            System.err.println("unknown config; known: " + CONFIGS.keySet());
            System.exit(2);
        }
        if (!Compat.supports(config.stored)) {
            System.err.println("config " + name + " is not written by Lucene " + Version.LATEST);
            System.exit(2);
        }
        Files.createDirectories(dir);
        Random random = new Random(name.hashCode() * 31L + 7);
        AtomicLong retainFrom = new AtomicLong(0);
        IdForms forms = new IdForms();
        try (Directory directory = FSDirectory.open(dir);
             IndexWriter writer = new IndexWriter(directory,
                 writerConfig(Compat.codec(config.stored), config.compound, config.soft, retainFrom))) {
            EsWriter es = new EsWriter(writer, config.soft);
            List<String> live = new ArrayList<>();
            Map<String, Long> versions = new TreeMap<>();
            Set<String> used = new HashSet<>();
            int bigEvery = config.bigDocs == 0 ? Integer.MAX_VALUE : config.docs / (config.bigDocs + 1);
            for (int i = 0; i < config.docs; i++) {
                String id = forms.next(random, i, used);
                int size = i > 0 && i % bigEvery == 0 ? 1_300_000 + random.nextInt(200_000) : docSize(random);
                es.index(document(es, random, id, i, size, 1));
                live.add(id);
                versions.put(id, 1L);
                if (i > 10) {
                    double roll = random.nextDouble();
                    if (roll < 0.08) {
                        String victim = live.get(random.nextInt(live.size()));
                        long version = versions.merge(victim, 1L, Long::sum);
                        es.update(victim, document(es, random, victim, i, docSize(random), version));
                    } else if (roll < 0.12) {
                        int at = random.nextInt(live.size());
                        String victim = live.get(at);
                        live.set(at, live.get(live.size() - 1));
                        live.remove(live.size() - 1);
                        es.delete(victim, random.nextBoolean(), versions.merge(victim, 1L, Long::sum));
                    }
                }
                if ((i + 1) % config.flushEvery == 0) {
                    writer.flush();
                }
                if (config.forceMerge && i == config.docs * 6 / 10) {
                    retainFrom.set(es.seqNo - 150);
                    writer.forceMerge(2);
                }
            }
            writer.commit();
        }
        forms.check();
    }

    static int docSize(Random random) {
        // Mostly small documents, some medium, a few larger than a tiny chunk.
        double roll = random.nextDouble();
        if (roll < 0.8) {
            return 80 + random.nextInt(900);
        }
        if (roll < 0.97) {
            return 1000 + random.nextInt(4000);
        }
        return 20_000 + random.nextInt(40_000);
    }

    /** Generates ids of all four stored `_id` forms and checks each round-trips through {@link Uid}. */
    static final class IdForms {
        private final int[] counts = new int[4];

        String next(Random random, int i, Set<String> used) {
            while (true) {
                String id = candidate(random, i);
                if (used.add(id)) {
                    byte[] encoded = Uid.encodeId(id);
                    String back = Uid.decodeId(encoded, 0, encoded.length);
                    if (!back.equals(id)) {
                        throw new AssertionError("Uid round trip failed for " + id + ": " + back);
                    }
                    int first = Byte.toUnsignedInt(encoded[0]);
                    counts[first == 0xfe ? 0 : first == 0xff ? 1 : first == 0xfd ? 2 : 3]++;
                    return id;
                }
            }
        }

        private static String candidate(Random random, int i) {
            switch (i % 5) {
                case 0:
                    // Numeric, odd and even lengths, some with leading zeros.
                    return (random.nextInt(4) == 0 ? "00" : "") + (random.nextInt(1_000_000_000) + i);
                case 1: {
                    // Base64 whose first byte collides with the markers, so ES escapes it with 0xFD.
                    byte[] b = new byte[1 + random.nextInt(20)];
                    random.nextBytes(b);
                    b[0] = (byte) (0xfd + random.nextInt(3));
                    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
                }
                case 2: {
                    String[] tails = {"", "-é", "-中文", "-😀", " with space", "#hash", "a/b", "ü=1", "\"q\"\\"};
                    return "doc-" + i + tails[random.nextInt(tails.length)];
                }
                default: {
                    // Auto-generated-like: 15 random bytes, 20 base64url chars (or other lengths).
                    byte[] b = new byte[i % 5 == 3 ? 15 : 1 + random.nextInt(24)];
                    random.nextBytes(b);
                    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
                }
            }
        }

        void check() {
            if (Arrays.stream(counts).anyMatch(c -> c == 0)) {
                throw new AssertionError("an _id form was never generated: " + Arrays.toString(counts));
            }
        }
    }

    static final String[] WORDS = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        "india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "café", "naïve", "Straße", "東京",
        "данные", "مرحبا", "🚀", "a\\\"quoted\\\"", "tab\\t", "line\\n"};

    /** An ES-shaped document; {@code size} is the approximate `_source` length. */
    static Document document(EsWriter es, Random random, String id, int i, int size, long version) {
        Document doc = new Document();
        boolean extrasFirst = i % 11 == 0;
        if (extrasFirst) {
            addExtras(doc, random, i);
        }
        doc.add(new StringField("_id", new BytesRef(Uid.encodeId(id)), Field.Store.YES));
        doc.add(new StoredField("_source", new BytesRef(source(random, i, size, version))));
        if (i % 7 == 3) {
            String[] routings = {"r1", "user-42", "ルート", "shard key"};
            doc.add(new StringField("_routing", routings[random.nextInt(routings.length)], Field.Store.YES));
        }
        if (!extrasFirst && i % 5 == 2) {
            addExtras(doc, random, i);
        }
        es.addMeta(doc, version);
        return doc;
    }

    /** Stored fields of every other type, so the reader must skip them correctly. */
    static void addExtras(Document doc, Random random, int i) {
        doc.add(new StoredField("title_stored", "title " + i + " " + WORDS[random.nextInt(WORDS.length)]));
        doc.add(new StoredField("count", random.nextInt() >> random.nextInt(31)));
        doc.add(new StoredField("ratio", random.nextFloat() * (random.nextBoolean() ? 1 : -1e6f)));
        doc.add(new StoredField("ts", 1_600_000_000_000L + random.nextInt(1000) * 86_400_000L));
        doc.add(new StoredField("ts_odd", random.nextLong()));
        doc.add(new StoredField("score", random.nextBoolean() ? random.nextDouble() : (double) random.nextInt(100)));
        doc.add(new StoredField("tiny_float", (float) random.nextInt(50)));
        byte[] blob = new byte[random.nextInt(40)];
        random.nextBytes(blob);
        doc.add(new StoredField("blob", new BytesRef(blob)));
    }

    static byte[] source(Random random, int i, int size, long version) {
        if (i % 97 == 50) {
            // Non-UTF-8 bytes, as a SMILE/CBOR `_source` would be.
            byte[] b = new byte[16 + random.nextInt(200)];
            random.nextBytes(b);
            b[0] = (byte) 0xbf;
            b[1] = (byte) 0xff;
            return b;
        }
        StringBuilder sb = new StringBuilder(size + 64);
        boolean pretty = i % 13 == 4;
        if (i % 17 == 5) {
            sb.append("\n  \r\n");
        }
        sb.append('{').append(pretty ? "\n  " : "").append("\"n\":").append(i).append(',')
            .append(pretty ? "\n  " : "").append("\"version\":").append(version).append(",\"body\":\"");
        while (sb.length() < size) {
            sb.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
            if (random.nextInt(50) == 0) {
                sb.append(random.nextLong()).append(' ');
            }
        }
        sb.append("\",\"tags\":[\"").append(WORDS[random.nextInt(WORDS.length)]).append("\"]")
            .append(pretty ? "\n" : "").append('}');
        if (i % 19 == 7) {
            sb.append("\n\n");
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Opens a directory the way ES reads a shard: soft-deleted docs hidden when the field exists. */
    static DirectoryReader open(Directory directory) throws IOException {
        DirectoryReader reader = DirectoryReader.open(directory);
        boolean soft = reader.leaves().stream()
            .anyMatch(leaf -> leaf.reader().getFieldInfos().fieldInfo(SOFT_DELETES) != null);
        return soft ? new SoftDeletesDirectoryReaderWrapper(reader, SOFT_DELETES) : reader;
    }

    /** The segment reader under any wrappers (soft deletes wrap each leaf). */
    static SegmentReader segmentReader(LeafReader leaf) {
        LeafReader current = leaf;
        while (true) {
            if (current instanceof SegmentReader) {
                return (SegmentReader) current;
            } else if (current instanceof FilterLeafReader) {
                current = ((FilterLeafReader) current).getDelegate();
            } else if (current instanceof FilterCodecReader) {
                current = ((FilterCodecReader) current).getDelegate();
            } else {
                throw new IllegalStateException("cannot unwrap " + current.getClass());
            }
        }
    }

    static PrintStream stdout() {
        return new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false,
            StandardCharsets.UTF_8);
    }

    static void listTo(Path dir, Path file) throws IOException {
        try (PrintStream out = new PrintStream(new BufferedOutputStream(Files.newOutputStream(file)), false,
            StandardCharsets.UTF_8)) {
            list(dir, out);
        }
    }

    static void list(Path dir, PrintStream out) throws IOException {
        try (Directory directory = FSDirectory.open(dir); DirectoryReader reader = open(directory)) {
            for (LeafReaderContext ctx : reader.leaves()) {
                LeafReader leaf = ctx.reader();
                String segment = segmentReader(leaf).getSegmentName();
                Bits liveDocs = leaf.getLiveDocs();
                StoredDocs docs = Compat.storedFields(leaf);
                for (int doc = 0; doc < leaf.maxDoc(); doc++) {
                    if (liveDocs != null && !liveDocs.get(doc)) {
                        continue;
                    }
                    Collect visitor = new Collect();
                    docs.visit(doc, visitor);
                    if (visitor.id == null) {
                        continue;
                    }
                    out.append("{\"_id\":");
                    json(out, Uid.decodeId(visitor.id, 0, visitor.id.length));
                    if (visitor.routing != null) {
                        out.append(",\"_routing\":");
                        json(out, visitor.routing);
                    }
                    if (visitor.source != null) {
                        out.append(",\"_source_base64\":\"")
                            .append(Base64.getEncoder().encodeToString(visitor.source)).append('"');
                    }
                    out.append(",\"segment\":");
                    json(out, segment);
                    out.append(",\"doc\":").append(Integer.toString(doc)).append("}\n");
                }
            }
        }
    }

    /** Reads the stored fields of one document of a segment, whichever API the running Lucene offers. */
    interface StoredDocs {
        void visit(int doc, StoredFieldVisitor visitor) throws IOException;
    }

    /**
     * Collects the three ES identity/source fields of one document. String fields arrive as UTF-8 bytes in Lucene 8
     * and as a {@code String} in Lucene 9+: both overloads are declared (without {@code @Override}, as each version
     * has only one) so one source compiles against either.
     */
    static final class Collect extends StoredFieldVisitor {
        byte[] id;
        byte[] source;
        String routing;

        @Override
        public Status needsField(FieldInfo fieldInfo) {
            switch (fieldInfo.name) {
                case "_id":
                case "_source":
                case "_routing":
                    return Status.YES;
                default:
                    return Status.NO;
            }
        }

        @Override
        public void binaryField(FieldInfo fieldInfo, byte[] value) {
            if (fieldInfo.name.equals("_id")) {
                id = value;
            } else if (fieldInfo.name.equals("_source")) {
                source = value;
            }
        }

        public void stringField(FieldInfo fieldInfo, byte[] value) {
            stringField(fieldInfo, new String(value, StandardCharsets.UTF_8));
        }

        public void stringField(FieldInfo fieldInfo, String value) {
            if (fieldInfo.name.equals("_routing")) {
                routing = value;
            }
        }
    }

    static void json(PrintStream out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }
}
