import java.io.IOException;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictCompress;
import com.github.luben.zstd.ZstdDictDecompress;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.StoredFieldsFormat;
import org.apache.lucene.codecs.compressing.CompressionMode;
import org.apache.lucene.codecs.compressing.Compressor;
import org.apache.lucene.codecs.compressing.Decompressor;
import org.apache.lucene.codecs.lucene90.compressing.Lucene90CompressingStoredFieldsFormat;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.store.ByteBuffersDataInput;
import org.apache.lucene.store.DataInput;
import org.apache.lucene.store.DataOutput;
import org.apache.lucene.util.ArrayUtil;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.Version;

/**
 * Re-implementations (not the products' code) of the zstd stored-fields formats that Elasticsearch and OpenSearch
 * write, byte-compatible with them as far as their public sources describe: the same format names, chunk sizes,
 * segment attributes and compressed-block layouts, with zstd from zstd-jni (bundled in the Lucene fat jars).
 *
 * <ul>
 *   <li>Elasticsearch 8.14+ {@code Zstd814StoredFieldsFormat}: format {@code ZstdStoredFields814}; a chunk is
 *       {@code VInt compressedLength} + one zstd frame (nothing at all for an empty chunk); BEST_SPEED = level 0,
 *       14 KiB / 128 docs, BEST_COMPRESSION = level 3, 240 KiB / 2048 docs; attribute
 *       {@code Zstd814StoredFieldsFormat.mode}.</li>
 *   <li>OpenSearch custom-codecs {@code zstd}: format {@code CustomStoredFieldsZstd}; a chunk is {@code VInt
 *       dictLength, VInt blockLength}, the first {@code dictLength} bytes as a plain frame, then the rest in blocks
 *       of {@code blockLength} bytes, each a frame compressed with the first part as its dictionary; every frame is
 *       {@code VInt length} + bytes. {@code zstd_no_dict}: format {@code CustomStoredFieldsZstdNoDict}, {@code VInt
 *       blockLength} then ten frames without a dictionary. Both level 3, 480 KiB / 4096 docs, attribute
 *       {@code Lucene<version>CustomStoredFieldsFormat.mode} = {@code ZSTD} / {@code ZSTD_NO_DICT}.</li>
 * </ul>
 */
final class ZstdFormats {
    private ZstdFormats() {}

    /** Elasticsearch's two {@code Zstd814StoredFieldsFormat} modes. */
    enum Es814Mode {
        BEST_SPEED(0, 14 * 1024, 128),
        BEST_COMPRESSION(3, 240 * 1024, 2048);

        final int level;
        final int blockBytes;
        final int blockDocs;

        Es814Mode(int level, int blockBytes, int blockDocs) {
            this.level = level;
            this.blockBytes = blockBytes;
            this.blockDocs = blockDocs;
        }
    }

    static StoredFieldsFormat es814(Es814Mode mode) {
        return new Compat.ModeStoredFields("Zstd814StoredFieldsFormat.mode", mode.name(),
            new Lucene90CompressingStoredFieldsFormat("ZstdStoredFields814", new Es814Compression(mode.level),
                mode.blockBytes, mode.blockDocs, 10));
    }

    /** OpenSearch's {@code zstd} ({@code dictionary = true}) or {@code zstd_no_dict}, named after {@code lucene}. */
    static StoredFieldsFormat openSearch(String luceneSuffix, boolean dictionary) {
        CompressionMode compression =
            dictionary ? new OpenSearchDictCompression(3) : new OpenSearchNoDictCompression(3);
        String format = dictionary ? "CustomStoredFieldsZstd" : "CustomStoredFieldsZstdNoDict";
        return new Compat.ModeStoredFields("Lucene" + luceneSuffix + "CustomStoredFieldsFormat.mode",
            dictionary ? "ZSTD" : "ZSTD_NO_DICT",
            new Lucene90CompressingStoredFieldsFormat(format, compression, 10 * 48 * 1024, 4096, 10));
    }

    /**
     * The running Lucene's default codec class, found without {@code Codec.getDefault()}, which the constructors of
     * SPI-loaded codecs must not call. Lucene 9.9 and 10.5 are the versions this oracle runs on.
     */
    static Class<? extends Codec> defaultCodecType() {
        for (String name : new String[] {"lucene104.Lucene104Codec", "lucene99.Lucene99Codec"}) {
            try {
                return Class.forName("org.apache.lucene.codecs." + name).asSubclass(Codec.class);
            } catch (ClassNotFoundException e) {
                // Not this version; try the next.
            }
        }
        throw new IllegalStateException("the oracle does not know the default codec of Lucene " + Version.LATEST);
    }

    /** A new instance of the running Lucene's default codec (its default mode). */
    static Codec newDefaultCodec() {
        try {
            return defaultCodecType().getConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot create the default codec", e);
        }
    }

    /** The version digits of the default codec's name ({@code Lucene99Codec} gives {@code 99}). */
    static String luceneSuffix() {
        return defaultCodecType().getSimpleName().replace("Lucene", "").replace("Codec", "");
    }

    /** Writes {@code VInt length} + a zstd frame of {@code src[offset, offset+length)}, compressed by {@code ctx}. */
    static void writeFrame(ZstdCompressCtx ctx, byte[] src, int offset, int length, DataOutput out)
        throws IOException {
        if (length == 0) {
            out.writeVInt(0);
            return;
        }
        byte[] frame = new byte[(int) Zstd.compressBound(length)];
        int size = ctx.compressByteArray(frame, 0, frame.length, src, offset, length);
        out.writeVInt(size);
        out.writeBytes(frame, size);
    }

    /** Reads a frame written by {@link #writeFrame} and decompresses exactly {@code length} bytes into {@code dst}. */
    static void readFrame(ZstdDecompressCtx ctx, DataInput in, byte[] dst, int offset, int length)
        throws IOException {
        int size = in.readVInt();
        if (size == 0 && length == 0) {
            return;
        }
        byte[] frame = new byte[size];
        in.readBytes(frame, 0, size);
        int got = ctx.decompressByteArray(dst, offset, length, frame, 0, size);
        if (got != length) {
            throw new CorruptIndexException("zstd frame gave " + got + " bytes, expected " + length, in);
        }
    }

    static byte[] drain(ByteBuffersDataInput in) throws IOException {
        byte[] bytes = new byte[Math.toIntExact(in.length())];
        in.readBytes(bytes, 0, bytes.length);
        return bytes;
    }

    /** Points {@code bytes} at {@code [offset, offset+length)} of a fully decompressed {@code chunk}. */
    static void slice(byte[] chunk, int offset, int length, BytesRef bytes) {
        bytes.bytes = chunk;
        bytes.offset = offset;
        bytes.length = length;
    }

    static final class Es814Compression extends CompressionMode {
        private final int level;

        Es814Compression(int level) {
            this.level = level;
        }

        @Override
        public Compressor newCompressor() {
            return new Compressor() {
                @Override
                public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
                    byte[] src = drain(in);
                    if (src.length == 0) {
                        return;
                    }
                    try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
                        ctx.setLevel(level);
                        writeFrame(ctx, src, 0, src.length, out);
                    }
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public Decompressor newDecompressor() {
            return new Decompressor() {
                @Override
                public void decompress(DataInput in, int originalLength, int offset, int length, BytesRef bytes)
                    throws IOException {
                    byte[] chunk = new byte[originalLength];
                    if (originalLength > 0) {
                        try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
                            readFrame(ctx, in, chunk, 0, originalLength);
                        }
                    }
                    slice(chunk, offset, length, bytes);
                }

                @Override
                public Decompressor clone() {
                    return this;
                }
            };
        }
    }

    static final class OpenSearchDictCompression extends CompressionMode {
        private final int level;

        OpenSearchDictCompression(int level) {
            this.level = level;
        }

        @Override
        public Compressor newCompressor() {
            return new Compressor() {
                @Override
                public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
                    byte[] src = drain(in);
                    int dictLength = src.length / 60;
                    int blockLength = (src.length - dictLength + 9) / 10;
                    out.writeVInt(dictLength);
                    out.writeVInt(blockLength);
                    try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
                        ctx.setLevel(level);
                        writeFrame(ctx, src, 0, dictLength, out);
                        try (ZstdDictCompress dict = new ZstdDictCompress(src, 0, dictLength, level)) {
                            ctx.loadDict(dict);
                            for (int start = dictLength; start < src.length; start += blockLength) {
                                writeFrame(ctx, src, start, Math.min(blockLength, src.length - start), out);
                            }
                        }
                    }
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public Decompressor newDecompressor() {
            return new Decompressor() {
                @Override
                public void decompress(DataInput in, int originalLength, int offset, int length, BytesRef bytes)
                    throws IOException {
                    if (length == 0) {
                        slice(BytesRef.EMPTY_BYTES, 0, 0, bytes);
                        return;
                    }
                    int dictLength = in.readVInt();
                    int blockLength = in.readVInt();
                    byte[] chunk = new byte[originalLength];
                    int end = offset + length;
                    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
                        readFrame(ctx, in, chunk, 0, dictLength);
                        try (ZstdDictDecompress dict = new ZstdDictDecompress(chunk, 0, dictLength)) {
                            ctx.loadDict(dict);
                            for (int start = dictLength; start < end; start += blockLength) {
                                readFrame(ctx, in, chunk, start, Math.min(blockLength, originalLength - start));
                            }
                        }
                    }
                    slice(chunk, offset, length, bytes);
                }

                @Override
                public Decompressor clone() {
                    return this;
                }
            };
        }
    }

    static final class OpenSearchNoDictCompression extends CompressionMode {
        private final int level;

        OpenSearchNoDictCompression(int level) {
            this.level = level;
        }

        @Override
        public Compressor newCompressor() {
            return new Compressor() {
                @Override
                public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
                    byte[] src = drain(in);
                    int blockLength = (src.length + 9) / 10;
                    out.writeVInt(blockLength);
                    try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
                        ctx.setLevel(level);
                        for (int start = 0; start < src.length; start += blockLength) {
                            writeFrame(ctx, src, start, Math.min(blockLength, src.length - start), out);
                        }
                    }
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public Decompressor newDecompressor() {
            return new Decompressor() {
                @Override
                public void decompress(DataInput in, int originalLength, int offset, int length, BytesRef bytes)
                    throws IOException {
                    if (length == 0) {
                        slice(BytesRef.EMPTY_BYTES, 0, 0, bytes);
                        return;
                    }
                    int blockLength = in.readVInt();
                    byte[] chunk = new byte[originalLength];
                    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
                        for (int start = 0; start < offset + length; start += blockLength) {
                            readFrame(ctx, in, chunk, start, Math.min(blockLength, originalLength - start));
                        }
                    }
                    slice(chunk, offset, length, bytes);
                }

                @Override
                public Decompressor clone() {
                    return this;
                }
            };
        }
    }
}
