import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.StoredFieldVisitor;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;

/**
 * The stored-fields benchmark's Lucene side: a large ES-shaped index (~1 KB JSON `_source` per doc, soft deletes
 * with updates) and Lucene's fastest single-threaded sequential read of it (the stored-fields merge instance).
 */
final class LuceneBench {
    private LuceneBench() {}

    static void generate(Path dir, String mode, int docs) throws IOException {
        LuceneOracle.Stored stored;
        if (mode.equals("speed")) {
            stored = LuceneOracle.Stored.SPEED;
        } else if (mode.equals("compression")) {
            stored = LuceneOracle.Stored.COMPRESSION;
        } else {
            throw new IllegalArgumentException("mode must be speed or compression, got " + mode);
        }
        Files.createDirectories(dir);
        IndexWriterConfig iwc = LuceneOracle.writerConfig(Compat.codec(stored), false, true, new AtomicLong());
        // Flushes alone decide the segment layout (about a dozen segments of ~100 MB): no merge cost at generation.
        iwc.setMergePolicy(NoMergePolicy.INSTANCE);
        Random random = new Random(42);
        try (Directory directory = FSDirectory.open(dir); IndexWriter writer = new IndexWriter(directory, iwc)) {
            LuceneOracle.EsWriter es = new LuceneOracle.EsWriter(writer, true);
            for (int i = 0; i < docs; i++) {
                String id = Long.toString(1_000_000_000L + i);
                es.index(document(es, random, id, i));
                if (i > 100 && random.nextInt(100) < 3) {
                    String victim = Long.toString(1_000_000_000L + random.nextInt(i));
                    if (random.nextInt(4) == 0) {
                        es.delete(victim, false, 2);
                    } else {
                        es.update(victim, document(es, random, victim, i));
                    }
                }
                if ((i + 1) % 100_000 == 0) {
                    writer.flush();
                }
            }
            writer.commit();
        }
    }

    static Document document(LuceneOracle.EsWriter es, Random random, String id, int i) {
        Document doc = new Document();
        doc.add(new StringField("_id", new BytesRef(Uid.encodeId(id)), Field.Store.YES));
        StringBuilder sb = new StringBuilder(1100);
        sb.append("{\"@timestamp\":\"2024-05-").append(10 + i % 20).append("T").append(i % 24).append(":")
            .append(10 + i % 50).append(":00Z\",\"user\":{\"id\":").append(random.nextInt(100_000))
            .append(",\"name\":\"").append(LuceneOracle.WORDS[random.nextInt(LuceneOracle.WORDS.length)])
            .append("\"},\"status\":").append(200 + random.nextInt(4) * 100).append(",\"message\":\"");
        int target = 800 + random.nextInt(450);
        while (sb.length() < target) {
            sb.append(LuceneOracle.WORDS[random.nextInt(LuceneOracle.WORDS.length)]).append(' ');
            if (random.nextInt(8) == 0) {
                sb.append(random.nextInt()).append(' ');
            }
        }
        sb.append("\"}");
        doc.add(new StoredField("_source", new BytesRef(sb.toString().getBytes(StandardCharsets.UTF_8))));
        es.addMeta(doc, 1);
        return doc;
    }

    static void read(Path dir, int runs) throws IOException {
        long best = Long.MAX_VALUE;
        Totals totals = null;
        for (int run = 0; run < runs; run++) {
            long start = System.nanoTime();
            Totals t = new Totals();
            try (Directory directory = FSDirectory.open(dir); DirectoryReader reader = LuceneOracle.open(directory)) {
                for (LeafReaderContext ctx : reader.leaves()) {
                    LeafReader leaf = ctx.reader();
                    Bits liveDocs = leaf.getLiveDocs();
                    LuceneOracle.StoredDocs fields = Compat.mergeInstance(LuceneOracle.segmentReader(leaf));
                    t.segments++;
                    for (int doc = 0; doc < leaf.maxDoc(); doc++) {
                        if (liveDocs == null || liveDocs.get(doc)) {
                            t.seen = 0;
                            fields.visit(doc, t);
                            t.docs++;
                        }
                    }
                }
            }
            long elapsed = System.nanoTime() - start;
            System.err.printf("run %d: %d docs in %.1f ms%n", run + 1, t.docs, elapsed / 1e6);
            if (elapsed < best) {
                best = elapsed;
                totals = t;
            }
        }
        PrintStream out = LuceneOracle.stdout();
        out.printf("{\"docs\":%d,\"source_bytes\":%d,\"id_bytes\":%d,\"segments\":%d,\"elapsed_ms\":%.1f,"
            + "\"checksum\":%d}%n", totals.docs, totals.sourceBytes, totals.idBytes, totals.segments, best / 1e6,
            totals.checksum);
        out.flush();
    }

    /** Touches `_id` and `_source` bytes of each visited doc and stops once both were seen. */
    static final class Totals extends StoredFieldVisitor {
        long docs;
        long sourceBytes;
        long idBytes;
        long checksum;
        int segments;
        int seen;

        @Override
        public Status needsField(FieldInfo fieldInfo) {
            if (seen == 2) {
                return Status.STOP;
            }
            return fieldInfo.name.equals("_id") || fieldInfo.name.equals("_source") ? Status.YES : Status.NO;
        }

        @Override
        public void binaryField(FieldInfo fieldInfo, byte[] value) {
            if (fieldInfo.name.equals("_source")) {
                sourceBytes += value.length;
            } else {
                idBytes += value.length;
            }
            if (value.length > 0) {
                checksum += value[0] + value[value.length - 1];
            }
            seen++;
        }
    }
}
