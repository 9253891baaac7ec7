import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;

/**
 * OpenSearch custom-codecs' {@code zstd} codec ({@code ZSTD99} on Lucene 9.9, {@code ZSTD104} on 10.5) with its
 * dictionary zstd stored fields ({@link ZstdFormats#openSearch}). Public with a no-arg constructor for SPI.
 */
public final class OpenSearchZstdCodec extends FilterCodec {
    private final StoredFieldsFormat stored = ZstdFormats.openSearch(ZstdFormats.luceneSuffix(), true);

    public OpenSearchZstdCodec() {
        super("ZSTD" + ZstdFormats.luceneSuffix(), ZstdFormats.newDefaultCodec());
    }

    @Override
    public StoredFieldsFormat storedFieldsFormat() {
        return stored;
    }
}
