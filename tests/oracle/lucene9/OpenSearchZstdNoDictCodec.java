import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;

/**
 * OpenSearch custom-codecs' {@code zstd_no_dict} codec ({@code ZSTDNODICT99} on Lucene 9.9, {@code ZSTDNODICT104}
 * on 10.5) with its dictionary-less zstd stored fields. Public with a no-arg constructor for SPI.
 */
public final class OpenSearchZstdNoDictCodec extends FilterCodec {
    private final StoredFieldsFormat stored = ZstdFormats.openSearch(ZstdFormats.luceneSuffix(), false);

    public OpenSearchZstdNoDictCodec() {
        super("ZSTDNODICT" + ZstdFormats.luceneSuffix(), ZstdFormats.newDefaultCodec());
    }

    @Override
    public StoredFieldsFormat storedFieldsFormat() {
        return stored;
    }
}
