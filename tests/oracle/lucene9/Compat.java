import java.io.IOException;
import java.lang.reflect.Constructor;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;
import org.apache.lucene.codecs.StoredFieldsReader;
import org.apache.lucene.codecs.StoredFieldsWriter;
import org.apache.lucene.codecs.lucene90.Lucene90StoredFieldsFormat;
import org.apache.lucene.codecs.lucene90.compressing.Lucene90CompressingStoredFieldsFormat;
import org.apache.lucene.index.FieldInfos;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.SegmentInfo;
import org.apache.lucene.index.SegmentReader;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.util.Version;

/**
 * The Lucene 9+ side of the oracle, compiled against Lucene 9.9 and run unchanged on 9.9 and 10.5: the default codec
 * is looked up at run time (Lucene99 or Lucene104), so every segment carries the running version's real codec name.
 */
final class Compat {
    private Compat() {}

    /**
     * Whether the running Lucene writes {@code stored}. The Elasticsearch and k-NN zstd codecs are re-created with
     * their Lucene 9 era names (ES 8.14+, OpenSearch 2.x), so they are written by Lucene 9 only; OpenSearch's zstd
     * codecs are named after the running Lucene and written by both.
     */
    static boolean supports(LuceneOracle.Stored stored) {
        switch (stored) {
            case ES_ZSTD_SPEED:
            case ES_ZSTD_COMPRESSION:
            case KNN_ZSTD:
                return Version.LATEST.major == 9;
            default:
                return true;
        }
    }

    static Codec codec(LuceneOracle.Stored stored) {
        switch (stored) {
            case SPEED:
                return defaultCodec("BEST_SPEED");
            case COMPRESSION:
                return defaultCodec("BEST_COMPRESSION");
            case LZ4_TINY:
                return new TinyChunks("BEST_SPEED", new Lucene90CompressingStoredFieldsFormat(
                    "Lucene90StoredFieldsFastData", Lucene90StoredFieldsFormat.BEST_SPEED_MODE, 300, 8, 10));
            case DEFLATE_TINY:
                return new TinyChunks("BEST_COMPRESSION", new Lucene90CompressingStoredFieldsFormat(
                    "Lucene90StoredFieldsHighData", Lucene90StoredFieldsFormat.BEST_COMPRESSION_MODE, 400, 8, 10));
            case ES_ZSTD_SPEED:
                return new Elasticsearch814Codec(ZstdFormats.Es814Mode.BEST_SPEED);
            case ES_ZSTD_COMPRESSION:
                return new Elasticsearch814Codec(ZstdFormats.Es814Mode.BEST_COMPRESSION);
            case OS_ZSTD:
                return new OpenSearchZstdCodec();
            case OS_ZSTD_NO_DICT:
                return new OpenSearchZstdNoDictCodec();
            case KNN_ZSTD:
                return new KnnZstdCodec();
            default:
                throw new IllegalArgumentException("no codec for " + stored);
        }
    }

    /** The running Lucene's default codec in the given mode (its nested {@code Mode} enum, found reflectively). */
    static Codec defaultCodec(String mode) {
        Class<? extends Codec> type = ZstdFormats.defaultCodecType();
        try {
            for (Class<?> nested : type.getClasses()) {
                if (nested.isEnum() && nested.getSimpleName().equals("Mode")) {
                    Constructor<? extends Codec> constructor = type.getConstructor(nested);
                    return constructor.newInstance(enumValue(nested, mode));
                }
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot create " + type.getName() + "(" + mode + ")", e);
        }
        throw new IllegalStateException(type.getName() + " has no Mode enum");
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumValue(Class<?> type, String name) {
        return Enum.valueOf((Class) type, name);
    }

    static LuceneOracle.StoredDocs storedFields(LeafReader leaf) throws IOException {
        StoredFields fields = leaf.storedFields();
        return fields::document;
    }

    /** The stored-fields merge instance: Lucene's fastest sequential reader. */
    static LuceneOracle.StoredDocs mergeInstance(SegmentReader segment) {
        return segment.getFieldsReader().getMergeInstance()::document;
    }

    /**
     * Writes the running default codec's segments (same codec name, same {@code Lucene90StoredFieldsFormat.mode}
     * attribute and format names) but with chunks of a few hundred bytes, so that multi-doc chunks, sliced chunks
     * and the preset-dictionary sub-blocks are all frequent. The real codec reads them back: the chunk size is read
     * from the file.
     */
    static final class TinyChunks extends FilterCodec {
        private final StoredFieldsFormat stored;

        TinyChunks(String mode, Lucene90CompressingStoredFieldsFormat format) {
            super(Codec.getDefault().getName(), ZstdFormats.newDefaultCodec());
            this.stored = new ModeStoredFields(Lucene90StoredFieldsFormat.MODE_KEY, mode, format);
        }

        @Override
        public StoredFieldsFormat storedFieldsFormat() {
            return stored;
        }
    }

    /** A compressing stored-fields format that records its mode as a segment attribute when writing. */
    static final class ModeStoredFields extends StoredFieldsFormat {
        private final String key;
        private final String mode;
        private final StoredFieldsFormat format;

        ModeStoredFields(String key, String mode, StoredFieldsFormat format) {
            this.key = key;
            this.mode = mode;
            this.format = format;
        }

        @Override
        public StoredFieldsReader fieldsReader(Directory dir, SegmentInfo si, FieldInfos fi, IOContext ctx)
            throws IOException {
            return format.fieldsReader(dir, si, fi, ctx);
        }

        @Override
        public StoredFieldsWriter fieldsWriter(Directory dir, SegmentInfo si, IOContext ctx) throws IOException {
            si.putAttribute(key, mode);
            return format.fieldsWriter(dir, si, ctx);
        }
    }
}
