import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.zip.CRC32;
import org.apache.lucene.codecs.*;
import org.apache.lucene.codecs.compressing.*;
import org.apache.lucene.codecs.lucene90.Lucene90StoredFieldsFormat;
import org.apache.lucene.codecs.lucene90.compressing.Lucene90CompressingStoredFieldsFormat;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.store.*;
import org.apache.lucene.util.*;
import com.github.luben.zstd.*;

/** Writes a small ES-like Lucene 9/10 index; usage: Gen9 outDir storedMode cfs|nocfs hard|soft numDocs */
public class Gen9 {
  static final String SOFT = "__soft_deletes";

  public static void main(String[] a) throws Exception {
    Path out = Paths.get(a[0]);
    String sf = a[1];
    boolean cfs = a[2].equals("cfs");
    boolean soft = a[3].equals("soft");
    int n = Integer.parseInt(a[4]);
    Codec base = Codec.getDefault();
    StoredFieldsFormat fmt;
    String name = base.getName();
    switch (sf) {
      case "speed": fmt = new Lucene90StoredFieldsFormat(Lucene90StoredFieldsFormat.Mode.BEST_SPEED); break;
      case "compression": fmt = new Lucene90StoredFieldsFormat(Lucene90StoredFieldsFormat.Mode.BEST_COMPRESSION); break;
      case "es814speed": fmt = new EsZstd("BEST_SPEED", 0, 14 * 1024, 128); name = "Elasticsearch814"; break;
      case "es814comp": fmt = new EsZstd("BEST_COMPRESSION", 3, 240 * 1024, 2048); name = "Elasticsearch814"; break;
      case "oszstd": fmt = new OsZstd("ZSTD", "CustomStoredFieldsZstd", new OsDictMode(3)); name = "ZSTD99"; break;
      case "osnodict": fmt = new OsZstd("ZSTD_NO_DICT", "CustomStoredFieldsZstdNoDict", new OsNoDictMode(3)); name = "ZSTDNODICT99"; break;
      default: throw new IllegalArgumentException(sf);
    }
    final StoredFieldsFormat f = fmt;
    Codec codec = new FilterCodec(name, base) {
      @Override public StoredFieldsFormat storedFieldsFormat() { return f; }
    };
    Files.createDirectories(out);
    Directory dir = FSDirectory.open(out);
    IndexWriterConfig iwc = new IndexWriterConfig();
    iwc.setCodec(codec);
    iwc.setUseCompoundFile(cfs);
    iwc.setMaxBufferedDocs(130);
    iwc.setRAMBufferSizeMB(64);
    LogDocMergePolicy ldmp = new LogDocMergePolicy();
    ldmp.setMergeFactor(1000);
    ldmp.setNoCFSRatio(cfs ? 1.0 : 0.0);
    if (soft) {
      iwc.setSoftDeletesField(SOFT);
      iwc.setMergePolicy(new SoftDeletesRetentionMergePolicy(SOFT, MatchAllDocsQuery::new, ldmp));
    } else {
      iwc.setMergePolicy(ldmp);
    }
    Random r = new Random(7);
    IndexWriter w = new IndexWriter(dir, iwc);
    for (int i = 0; i < n; i++) w.addDocument(doc(i, 0, r, sf));
    w.commit();
    // updates and deletes on the first, big segment
    for (int i = 0; i < n; i += 9) update(w, soft, i, 1, r, sf);
    for (int i = 4; i < n; i += 13) delete(w, soft, i);
    w.commit();
    if (soft) {
      // merge what exists: soft-deleted docs are retained, so the merged segment's base doc values carry them
      w.forceMerge(1);
      w.commit();
      for (int i = 2; i < n; i += 17) update(w, true, i, 2, r, sf);
      for (int i = 6; i < n; i += 19) delete(w, true, i);
    } else {
      for (int i = 1; i < n; i += 10) update(w, false, i, 2, r, sf);
    }
    w.commit();
    try (DirectoryReader reader = DirectoryReader.open(w)) {
      String commit = SegmentInfos.getLastCommitSegmentsFileName(dir);
      try (PrintWriter exp = new PrintWriter(out.resolve("expected.txt").toFile(), "UTF-8");
           PrintWriter docs = new PrintWriter(out.resolve("docs.txt").toFile(), "UTF-8")) {
        exp.println("commit " + commit);
        int numDocs = 0;
        for (LeafReaderContext ctx : reader.leaves()) {
          SegmentReader sr = (SegmentReader) FilterLeafReader.unwrap(ctx.reader());
          SegmentCommitInfo sci = sr.getSegmentInfo();
          Bits liv = sr.getHardLiveDocs();
          NumericDocValues sd = soft ? sr.getNumericDocValues(SOFT) : null;
          StringBuilder live = new StringBuilder();
          StoredFields sfr = sr.storedFields();
          for (int d = 0; d < sr.maxDoc(); d++) {
            boolean alive = liv == null || liv.get(d);
            if (sd != null && sd.docID() < d) sd.advance(d);
            if (sd != null && sd.docID() == d) alive = false;
            live.append(alive ? '1' : '0');
            if (alive) {
              numDocs++;
              Document doc = sfr.document(d);
              BytesRef id = doc.getBinaryValue("_id");
              BytesRef src = doc.getBinaryValue("_source");
              CRC32 crc = new CRC32();
              crc.update(src.bytes, src.offset, src.length);
              String routing = doc.get("_routing");
              docs.println(sci.info.name + " " + d + " " + new String(id.bytes, id.offset + 1, id.length - 1, StandardCharsets.UTF_8)
                  + " " + src.length + " " + Long.toHexString(crc.getValue()) + " " + doc.getFields().size()
                  + " " + (routing == null ? "-" : routing)
                  + " " + num(doc, "n_int") + " " + num(doc, "n_long") + " " + num(doc, "n_double") + " " + num(doc, "n_float"));
            }
          }
          exp.println("seg " + sci.info.name + " " + sr.maxDoc() + " del=" + sci.getDelCount() + " soft=" + sci.getSoftDelCount()
              + " cfs=" + sci.info.getUseCompoundFile() + " live=" + live);
        }
        exp.println("numDocs " + numDocs);
      }
    }
    w.close();
    dir.close();
  }

  static String num(Document doc, String field) {
    IndexableField f = doc.getField(field);
    if (f == null) return "-";
    Number n = f.numericValue();
    if (n instanceof Double) return Long.toHexString(Double.doubleToLongBits((Double) n));
    if (n instanceof Float) return Integer.toHexString(Float.floatToIntBits((Float) n));
    return n.toString();
  }

  static void update(IndexWriter w, boolean soft, int i, int gen, Random r, String sf) throws IOException {
    Term t = new Term("_id", uid(i));
    if (soft) w.softUpdateDocument(t, doc(i, gen, r, sf), new NumericDocValuesField(SOFT, 1));
    else w.updateDocument(t, doc(i, gen, r, sf));
  }

  static void delete(IndexWriter w, boolean soft, int i) throws IOException {
    Term t = new Term("_id", uid(i));
    if (soft) w.updateDocValues(t, new NumericDocValuesField(SOFT, 1));
    else w.deleteDocuments(t);
  }

  static BytesRef uid(int i) {
    byte[] s = ("doc" + i).getBytes(StandardCharsets.UTF_8);
    byte[] b = new byte[s.length + 1];
    b[0] = (byte) 0xff;
    System.arraycopy(s, 0, b, 1, s.length);
    return new BytesRef(b);
  }

  static final String[] WORDS = {"lucene", "ferry", "über", "日本", "shard", "segment", "snapshot", "doc", "value", "élan"};

  static Document doc(int i, int gen, Random r, String sf) {
    Document d = new Document();
    d.add(new StringField("_id", uid(i), Field.Store.YES));
    StringBuilder src = new StringBuilder("{\"id\":" + i + ",\"gen\":" + gen + ",\"text\":\"");
    int words = 3 + r.nextInt(26);
    for (int k = 0; k < words; k++) src.append(WORDS[r.nextInt(WORDS.length)]).append(' ').append(r.nextInt(10)).append(' ');
    if (i == 37 && gen == 0 && (sf.equals("speed") || sf.equals("es814speed"))) {
      // larger than a chunk: written as a sliced chunk
      for (int k = 0; k < 25000; k++) src.append("slice ").append(k % 97).append(' ');
    }
    src.append("\"}");
    d.add(new StoredField("_source", new BytesRef(src.toString().getBytes(StandardCharsets.UTF_8))));
    if (i % 7 == 3) d.add(new StoredField("_routing", "r" + (i % 5)));
    if (i % 3 == 0) d.add(new StoredField("n_int", i * 31 - 500));
    if (i % 5 == 0) d.add(new StoredField("n_double", i % 10 == 0 ? -i / 7.0 : i / 7.0));
    if (i % 6 == 0) d.add(new StoredField("n_float", i % 12 == 0 ? i * 1.5f : -i * 0.25f));
    if (i % 4 == 0) d.add(new StoredField("n_long", (long) i * 86400000L));
    d.add(new NumericDocValuesField("_seq_no", i + 1000L * gen));
    d.add(new SortedDocValuesField("kw", new BytesRef("k" + (i % 11))));
    d.add(new SortedSetDocValuesField("tags", new BytesRef("t" + (i % 5))));
    d.add(new SortedSetDocValuesField("tags", new BytesRef("u" + (i % 3))));
    d.add(new SortedNumericDocValuesField("sn", i % 13));
    d.add(new SortedNumericDocValuesField("sn", i % 17));
    if (i % 3 == 0) d.add(new BinaryDocValuesField("bin", new BytesRef("b" + i)));
    if (i % 4 == 0) d.add(new NumericDocValuesField("sparse", i));
    return d;
  }

  /** Elasticsearch's Zstd814StoredFieldsFormat, written after the upstream class with zstd-jni. */
  static final class EsZstd extends Lucene90CompressingStoredFieldsFormat {
    final String mode;
    EsZstd(String mode, int level, int blockSize, int blockDocs) {
      super("ZstdStoredFields814", new EsMode(level), blockSize, blockDocs, 10);
      this.mode = mode;
    }
    @Override public StoredFieldsWriter fieldsWriter(Directory d, SegmentInfo si, IOContext c) throws IOException {
      si.putAttribute("Zstd814StoredFieldsFormat.mode", mode);
      return super.fieldsWriter(d, si, c);
    }
  }

  static final class EsMode extends CompressionMode {
    final int level;
    EsMode(int level) { this.level = level; }
    @Override public Compressor newCompressor() {
      return new Compressor() {
        @Override public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
          int len = (int) in.length();
          if (len == 0) return;
          byte[] src = new byte[len];
          in.readBytes(src, 0, len);
          byte[] c = Zstd.compress(src, level);
          out.writeVInt(c.length);
          out.writeBytes(c, c.length);
        }
        @Override public void close() {}
      };
    }
    @Override public Decompressor newDecompressor() {
      return new Decompressor() {
        @Override public void decompress(DataInput in, int orig, int off, int len, BytesRef bytes) throws IOException {
          if (orig == 0) { bytes.offset = bytes.length = 0; return; }
          byte[] c = new byte[in.readVInt()];
          in.readBytes(c, 0, c.length);
          byte[] d = Zstd.decompress(c, orig);
          bytes.bytes = Arrays.copyOfRange(d, off, off + len);
          bytes.offset = 0;
          bytes.length = len;
        }
        @Override public Decompressor clone() { return this; }
      };
    }
  }

  /** OpenSearch custom-codecs Lucene99CustomStoredFieldsFormat (ZSTD / ZSTD_NO_DICT), after upstream. */
  static final class OsZstd extends StoredFieldsFormat {
    final String mode;
    final Lucene90CompressingStoredFieldsFormat impl;
    OsZstd(String mode, String formatName, CompressionMode cm) {
      this.mode = mode;
      impl = new Lucene90CompressingStoredFieldsFormat(formatName, cm, 10 * 48 * 1024, 4096, 10);
    }
    @Override public StoredFieldsReader fieldsReader(Directory d, SegmentInfo si, FieldInfos fn, IOContext c) throws IOException {
      return impl.fieldsReader(d, si, fn, c);
    }
    @Override public StoredFieldsWriter fieldsWriter(Directory d, SegmentInfo si, IOContext c) throws IOException {
      si.putAttribute("Lucene99CustomStoredFieldsFormat.mode", mode);
      return impl.fieldsWriter(d, si, c);
    }
  }

  static byte[] readAll(ByteBuffersDataInput in) throws IOException {
    byte[] b = new byte[(int) in.length()];
    in.readBytes(b, 0, b.length);
    return b;
  }

  static final class OsDictMode extends CompressionMode {
    final int level;
    OsDictMode(int level) { this.level = level; }
    static void doCompress(byte[] b, int off, int len, ZstdCompressCtx cctx, DataOutput out) throws IOException {
      if (len == 0) { out.writeVInt(0); return; }
      byte[] buf = new byte[(int) Zstd.compressBound(len)];
      int n = cctx.compressByteArray(buf, 0, buf.length, b, off, len);
      out.writeVInt(n);
      out.writeBytes(buf, n);
    }
    @Override public Compressor newCompressor() {
      return new Compressor() {
        @Override public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
          byte[] b = readAll(in);
          int length = b.length;
          int dictLength = length / (10 * 6);
          int blockLength = (length - dictLength + 10 - 1) / 10;
          out.writeVInt(dictLength);
          out.writeVInt(blockLength);
          try (ZstdCompressCtx cctx = new ZstdCompressCtx()) {
            cctx.setLevel(level);
            doCompress(b, 0, dictLength, cctx, out);
            try (ZstdDictCompress dc = new ZstdDictCompress(b, 0, dictLength, level)) {
              cctx.loadDict(dc);
              for (int start = dictLength; start < length; start += blockLength) {
                doCompress(b, start, Math.min(blockLength, length - start), cctx, out);
              }
            }
          }
        }
        @Override public void close() {}
      };
    }
    @Override public Decompressor newDecompressor() {
      return new Decompressor() {
        @Override public void decompress(DataInput in, int orig, int off, int len, BytesRef bytes) throws IOException {
          if (len == 0) { bytes.length = 0; return; }
          int dictLength = in.readVInt();
          int blockLength = in.readVInt();
          byte[] all = new byte[orig];
          int pos = 0;
          try (ZstdDecompressCtx dctx = new ZstdDecompressCtx()) {
            pos += one(in, dctx, all, pos, dictLength);
            try (ZstdDictDecompress dd = new ZstdDictDecompress(all, 0, dictLength)) {
              dctx.loadDict(dd);
              while (pos < orig) pos += one(in, dctx, all, pos, Math.min(blockLength, orig - pos));
            }
          }
          bytes.bytes = Arrays.copyOfRange(all, off, off + len);
          bytes.offset = 0;
          bytes.length = len;
        }
        int one(DataInput in, ZstdDecompressCtx dctx, byte[] all, int pos, int n) throws IOException {
          int c = in.readVInt();
          if (c == 0) return 0;
          byte[] cb = new byte[c];
          in.readBytes(cb, 0, c);
          return dctx.decompressByteArray(all, pos, n, cb, 0, c);
        }
        @Override public Decompressor clone() { return this; }
      };
    }
  }

  static final class OsNoDictMode extends CompressionMode {
    final int level;
    OsNoDictMode(int level) { this.level = level; }
    @Override public Compressor newCompressor() {
      return new Compressor() {
        @Override public void compress(ByteBuffersDataInput in, DataOutput out) throws IOException {
          byte[] b = readAll(in);
          int length = b.length;
          int blockLength = (length + 10 - 1) / 10;
          out.writeVInt(blockLength);
          for (int start = 0; start < length; start += blockLength) {
            int l = Math.min(blockLength, length - start);
            byte[] buf = new byte[(int) Zstd.compressBound(l)];
            int n = (int) Zstd.compressByteArray(buf, 0, buf.length, b, start, l, level);
            out.writeVInt(n);
            out.writeBytes(buf, n);
          }
        }
        @Override public void close() {}
      };
    }
    @Override public Decompressor newDecompressor() {
      return new Decompressor() {
        @Override public void decompress(DataInput in, int orig, int off, int len, BytesRef bytes) throws IOException {
          if (len == 0) { bytes.length = 0; return; }
          int blockLength = in.readVInt();
          byte[] all = new byte[orig];
          for (int pos = 0; pos < orig; ) {
            int c = in.readVInt();
            byte[] cb = new byte[c];
            in.readBytes(cb, 0, c);
            int l = Math.min(blockLength, orig - pos);
            pos += (int) Zstd.decompressByteArray(all, pos, l, cb, 0, c);
          }
          bytes.bytes = Arrays.copyOfRange(all, off, off + len);
          bytes.offset = 0;
          bytes.length = len;
        }
        @Override public Decompressor clone() { return this; }
      };
    }
  }
}
