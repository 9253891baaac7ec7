import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;

/**
 * The OpenSearch k-NN plugin's codec name for Lucene 9.9 ({@code KNN990Codec}), which wraps the index's codec:
 * here OpenSearch's {@code zstd}, so the segment names one codec and its stored fields another format. Public with a
 * no-arg constructor for SPI.
 */
public final class KnnZstdCodec extends FilterCodec {
    private final StoredFieldsFormat stored = ZstdFormats.openSearch(ZstdFormats.luceneSuffix(), true);

    public KnnZstdCodec() {
        super("KNN990Codec", ZstdFormats.newDefaultCodec());
    }

    @Override
    public StoredFieldsFormat storedFieldsFormat() {
        return stored;
    }
}
