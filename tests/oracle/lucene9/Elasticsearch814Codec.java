import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.StoredFieldsFormat;

/**
 * Elasticsearch 8.14's codec name ({@code Elasticsearch814}, the default codec underneath) with its zstd stored
 * fields ({@link ZstdFormats#es814}). Public with a no-arg constructor for SPI: Lucene looks the name up to read
 * the segments back; the format reads either mode, as Elasticsearch's does.
 */
public final class Elasticsearch814Codec extends FilterCodec {
    private final StoredFieldsFormat stored;

    public Elasticsearch814Codec() {
        this(ZstdFormats.Es814Mode.BEST_SPEED);
    }

    Elasticsearch814Codec(ZstdFormats.Es814Mode mode) {
        super("Elasticsearch814", ZstdFormats.newDefaultCodec());
        this.stored = ZstdFormats.es814(mode);
    }

    @Override
    public StoredFieldsFormat storedFieldsFormat() {
        return stored;
    }
}
