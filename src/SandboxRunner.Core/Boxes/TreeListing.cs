using System.Globalization;
using System.Text;

namespace SandboxRunner.Boxes;

/// <summary>One entry of a box's folder as <see cref="TreeListing"/> reads it: its kind, size, permission bits and times, its path as bytes.</summary>
/// <param name="Kind"><c>f</c> file, <c>d</c> folder, <c>l</c> link, <c>p</c> FIFO, <c>s</c> socket, <c>c</c>/<c>b</c> device, anything else unknown.</param>
/// <param name="Path">Below the listed root, as the box's file system has it (not necessarily UTF-8).</param>
/// <param name="LinkTarget">A link's text, as bytes; empty for anything else.</param>
public sealed record ListedEntry(char Kind, long Size, int Mode, FileTime Modified, FileTime Changed, byte[] Path, byte[] LinkTarget);

/// <summary>A file time as <c>find</c> prints it (<c>seconds.fraction</c>), compared exactly, never through a floating point.</summary>
public readonly record struct FileTime(long Seconds, long Nanoseconds) : IComparable<FileTime>
{
    public int CompareTo(FileTime other) => Seconds != other.Seconds ? Seconds.CompareTo(other.Seconds) : Nanoseconds.CompareTo(other.Nanoseconds);

    public static bool operator >(FileTime a, FileTime b) => a.CompareTo(b) > 0;

    public static bool operator <(FileTime a, FileTime b) => a.CompareTo(b) < 0;

    public static bool operator >=(FileTime a, FileTime b) => a.CompareTo(b) >= 0;

    public static bool operator <=(FileTime a, FileTime b) => a.CompareTo(b) <= 0;

    public static FileTime Of(DateTime utc) => new(new DateTimeOffset(utc).ToUnixTimeSeconds(), 0);

    /// <summary><c>946684800.0000000000</c>; null when it is anything else.</summary>
    public static FileTime? Parse(ReadOnlySpan<byte> text)
    {
        var dot = text.IndexOf((byte)'.');
        var whole = dot < 0 ? text : text[..dot];
        var fraction = dot < 0 ? [] : text[(dot + 1)..];
        if (whole.Length is 0 or > 18 || fraction.Length > 18 || !long.TryParse(Encoding.ASCII.GetString(whole), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            return null;
        }

        long nanos = 0;
        for (var i = 0; i < 9; i++)
        {
            var digit = i < fraction.Length ? fraction[i] - '0' : 0;
            if (digit is < 0 or > 9)
            {
                return null;
            }

            nanos = (nanos * 10) + digit;
        }

        return new FileTime(seconds, nanos);
    }
}

/// <summary>
/// Lists a stopped box's <c>/workspace</c> (and the runner's stamp in its CODEX_HOME) with GNU <c>find</c> of the box's own
/// image, run beside it (<see cref="ITaskBox.LookBesideAsync"/>): kind, size, permission bits, modification and change times,
/// path and link text of every entry, links never followed. The agent chose every name and byte of the tree, so the listing
/// is read as untrusted input: one linear pass, every field checked, names kept as bytes for the caller to validate, and the
/// whole of it bounded (<see cref="MaxBytes"/>) by the box that reads it back.
/// </summary>
public static class TreeListing
{
    /// <summary>Where the look writes its listing: a scratch folder of its own, gone with it.</summary>
    public const string OutputFolder = "/sandbox-runner-look";

    public const string OutputFile = OutputFolder + "/tree";

    /// <summary>A listing longer than this is not read (the tree is then copied out whole, bounded as before).</summary>
    public const long MaxBytes = 32L * 1024 * 1024;

    /// <summary>What the look prints for an entry: five fields, the path, NUL, the link text, NUL (a name holds anything but NUL).</summary>
    private const string Format = "%y %s %m %T@ %C@ %p\\0%l\\0";

    /// <summary>
    /// The look's command: <paramref name="root"/> whole, and of <paramref name="stampFolder"/> only itself and
    /// <paramref name="stamp"/> (everything else there is pruned).
    /// </summary>
    public static IReadOnlyList<string> Command(string root, string stampFolder, string stamp) =>
    [
        "find", stampFolder, root, "-xdev",
        "(", "-path", stampFolder + "/*", "!", "-path", stamp, "-prune", ")",
        "-o", "-fprintf", OutputFile, Format,
    ];

    /// <summary>
    /// The entries under <paramref name="root"/> (the root itself left out) and the change time of <paramref name="stamp"/>
    /// (null when it is not listed); null when the listing is malformed anywhere (a look that cannot be read is not used).
    /// Parsing stops once more than <paramref name="maxEntries"/> are read (the tree is then over its <c>max_files</c>, and
    /// nothing after that changes the verdict): a listing near its byte bound holds half a million names, which would
    /// otherwise all be kept in memory for every task at once.
    /// </summary>
    public static (List<ListedEntry> Entries, FileTime? Stamp)? Parse(ReadOnlySpan<byte> listing, string root, string stamp, long maxEntries = long.MaxValue)
    {
        var rootBytes = Encoding.UTF8.GetBytes(root + "/");
        var stampBytes = Encoding.UTF8.GetBytes(stamp);
        var entries = new List<ListedEntry>();
        FileTime? stampTime = null;
        Span<Range> fields = stackalloc Range[5];
        while (listing.Length > 0)
        {
            var end = listing.IndexOf((byte)0);
            if (end < 0)
            {
                return null;
            }

            var record = listing[..end];
            listing = listing[(end + 1)..];
            var linkEnd = listing.IndexOf((byte)0);
            if (linkEnd < 0)
            {
                return null;
            }

            var link = listing[..linkEnd];
            listing = listing[(linkEnd + 1)..];

            // Five space-separated fields the runner's format wrote, then the path (which may hold spaces).
            var at = 0;
            for (var i = 0; i < fields.Length; i++)
            {
                var space = at < record.Length ? record[at..].IndexOf((byte)' ') : -1;
                if (space < 0)
                {
                    return null;
                }

                fields[i] = new Range(at, at + space);
                at += space + 1;
            }

            if (!TryFields(record, fields, out var kind, out var size, out var mode, out var modified, out var changed))
            {
                return null;
            }

            var path = record[at..];
            if (path.SequenceEqual(stampBytes))
            {
                stampTime = changed;
            }
            else if (path.StartsWith(rootBytes) && path.Length > rootBytes.Length)
            {
                entries.Add(new ListedEntry(kind, size, mode, modified, changed, path[rootBytes.Length..].ToArray(), link.ToArray()));
                if (entries.Count > maxEntries)
                {
                    break;
                }
            }
        }

        return (entries, stampTime);
    }

    private static bool TryFields(
        ReadOnlySpan<byte> record, ReadOnlySpan<Range> fields, out char kind, out long size, out int mode, out FileTime modified, out FileTime changed)
    {
        (kind, size, mode, modified, changed) = ('?', 0, 0, default, default);
        var kindField = record[fields[0]];
        var sizeText = Encoding.ASCII.GetString(record[fields[1]]);
        var modeText = Encoding.ASCII.GetString(record[fields[2]]);
        if (kindField.Length != 1 || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out size)
            || modeText.Length is 0 or > 5 || modeText.Any(c => c is < '0' or > '7')
            || FileTime.Parse(record[fields[3]]) is not { } m || FileTime.Parse(record[fields[4]]) is not { } c)
        {
            return false;
        }

        kind = (char)kindField[0];
        mode = Convert.ToInt32(modeText, 8);
        (modified, changed) = (m, c);
        return true;
    }
}
