import java.io.IOException;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;
import org.apache.lucene.codecs.StoredFieldsReader;
import org.apache.lucene.codecs.StoredFieldsWriter;
import org.apache.lucene.codecs.compressing.CompressingStoredFieldsFormat;
import org.apache.lucene.codecs.compressing.CompressionMode;
import org.apache.lucene.codecs.lucene87.Lucene87Codec;
import org.apache.lucene.index.FieldInfos;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.SegmentInfo;
import org.apache.lucene.index.SegmentReader;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;

/** The Lucene 8 side of the oracle: Lucene87 codecs and the Lucene 8 stored-fields read API. */
final class Compat {
    private Compat() {}

    /** Whether this Lucene can write {@code stored} (zstd formats came with Lucene 9 era products). */
    static boolean supports(LuceneOracle.Stored stored) {
        switch (stored) {
            case SPEED:
            case COMPRESSION:
            case LZ4_TINY:
            case DEFLATE_TINY:
                return true;
            default:
                return false;
        }
    }

    /** The codec a config writes with; the tiny-chunk ones write real on-disk format names ({@link Lucene86Like}). */
    static Codec codec(LuceneOracle.Stored stored) {
        switch (stored) {
            case SPEED:
                return new Lucene87Codec(Lucene87Codec.Mode.BEST_SPEED);
            case COMPRESSION:
                return new Lucene87Codec(Lucene87Codec.Mode.BEST_COMPRESSION);
            case LZ4_TINY:
                return new Lucene86Like("BEST_SPEED", new CompressingStoredFieldsFormat(
                    "Lucene50StoredFieldsFastData", CompressionMode.FAST, 300, 8, 10));
            case DEFLATE_TINY:
                return new Lucene86Like("BEST_COMPRESSION", new CompressingStoredFieldsFormat(
                    "Lucene50StoredFieldsHighData", CompressionMode.HIGH_COMPRESSION, 400, 8, 10));
            default:
                throw new IllegalArgumentException(stored + " needs Lucene 9 or later");
        }
    }

    static LuceneOracle.StoredDocs storedFields(LeafReader leaf) {
        return leaf::document;
    }

    /** The stored-fields merge instance: Lucene's fastest sequential reader. */
    static LuceneOracle.StoredDocs mergeInstance(SegmentReader segment) {
        return segment.getFieldsReader().getMergeInstance()::visitDocument;
    }

    /**
     * Writes segments that Lucene 8.6 would have written (codec name {@code Lucene86}, stored fields
     * {@code Lucene50StoredFields*Data} with plain LZ4 or DEFLATE) but with a chunk size far below the default, so
     * that chunks, multi-doc chunks and sliced chunks are all frequent. The Lucene 8.6 codec (backward-codecs) reads
     * them back because every other format of Lucene86 equals Lucene87's and the chunk size is read from the file.
     */
    static final class Lucene86Like extends FilterCodec {
        private final StoredFieldsFormat stored;

        Lucene86Like(String mode, CompressingStoredFieldsFormat format) {
            super("Lucene86", new Lucene87Codec());
            this.stored = new StoredFieldsFormat() {
                @Override
                public StoredFieldsReader fieldsReader(Directory dir, SegmentInfo si, FieldInfos fi, IOContext ctx)
                    throws IOException {
                    return format.fieldsReader(dir, si, fi, ctx);
                }

                @Override
                public StoredFieldsWriter fieldsWriter(Directory dir, SegmentInfo si, IOContext ctx)
                    throws IOException {
                    si.putAttribute("Lucene50StoredFieldsFormat.mode", mode);
                    return format.fieldsWriter(dir, si, ctx);
                }
            };
        }

        @Override
        public StoredFieldsFormat storedFieldsFormat() {
            return stored;
        }
    }
}
