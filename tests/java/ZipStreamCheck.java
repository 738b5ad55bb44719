import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Enumeration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * Reads a zip archive with the JDK's own readers and prints one line per entry.
 *
 * <p>{@code java ZipStreamCheck stream} reads the archive from stdin with
 * {@link ZipInputStream}, which never sees the central directory: it relies on the
 * local headers and data descriptors alone. {@code java ZipStreamCheck file PATH} reads
 * it with {@link ZipFile}, which starts from the central directory.
 *
 * <p>Output, tab-separated: {@code entry <base64 of the UTF-8 name> <d|f> <bytes read>
 * <sha256 hex> <crc32 computed> <size the entry reports> <crc the entry reports>
 * <method>}, then {@code end <count>}. Names travel as base64 so that no console
 * encoding can alter them. Both readers check each entry's CRC-32 and sizes themselves
 * and throw a ZipException on a mismatch; any exception exits with status 1.
 */
public final class ZipStreamCheck {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try {
            if (args.length == 1 && args[0].equals("stream")) {
                readStream(out);
            } else if (args.length == 2 && args[0].equals("file")) {
                readFile(args[1], out);
            } else {
                System.err.println("usage: ZipStreamCheck stream < archive | ZipStreamCheck file PATH");
                System.exit(2);
            }
        } catch (Exception exc) {
            out.flush();
            exc.printStackTrace();
            System.exit(1);
        }
        out.flush();
    }

    private static void readStream(PrintStream out) throws Exception {
        int count = 0;
        try (ZipInputStream zip = new ZipInputStream(
                new BufferedInputStream(System.in, 1 << 16), StandardCharsets.UTF_8)) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                // Sizes and CRC of a data-descriptor entry are known only after its data.
                String line = digest(zip);
                report(out, entry, line);
                count++;
            }
        }
        out.println("end\t" + count);
    }

    private static void readFile(String path, PrintStream out) throws Exception {
        int count = 0;
        try (ZipFile zip = new ZipFile(path, StandardCharsets.UTF_8)) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                String line;
                try (InputStream data = zip.getInputStream(entry)) {
                    line = digest(data);
                }
                report(out, entry, line);
                count++;
            }
        }
        out.println("end\t" + count);
    }

    private static String digest(InputStream data) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        CRC32 crc = new CRC32();
        byte[] buffer = new byte[1 << 16];
        long total = 0;
        int read;
        while ((read = data.read(buffer)) != -1) {
            sha.update(buffer, 0, read);
            crc.update(buffer, 0, read);
            total += read;
        }
        return total + "\t" + hex(sha.digest()) + "\t" + crc.getValue();
    }

    private static void report(PrintStream out, ZipEntry entry, String digest) {
        String name = Base64.getEncoder().encodeToString(
                entry.getName().getBytes(StandardCharsets.UTF_8));
        out.println("entry\t" + name + "\t" + (entry.isDirectory() ? "d" : "f") + "\t" + digest
                + "\t" + entry.getSize() + "\t" + entry.getCrc() + "\t" + entry.getMethod());
    }

    private static String hex(byte[] bytes) {
        char[] chars = new char[bytes.length * 2];
        for (int index = 0; index < bytes.length; index++) {
            chars[index * 2] = HEX[(bytes[index] >> 4) & 0xF];
            chars[index * 2 + 1] = HEX[bytes[index] & 0xF];
        }
        return new String(chars);
    }
}
