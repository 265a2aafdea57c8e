using System.Buffers;
using System.Text;

namespace SandboxRunner.Boxes;

/// <summary>One tar header, names still as bytes (the archive may hold names that are not UTF-8).</summary>
public sealed record TarItem(byte[] Name, char Type, long Size, int Mode, byte[] LinkName);

/// <summary>
/// A forward-only, asynchronous tar reader for what the engine's archive endpoint sends (POSIX ustar with
/// PAX and GNU long-name headers), written for input nobody vouches for: every header is checksummed,
/// long names and PAX records are bounded, sizes are checked, and it never seeks or buffers an entry.
/// SharpZipLib's reader is synchronous (the engine's chunked stream is not) and decodes names on its own
/// terms, so names could not be judged byte for byte.
/// </summary>
public sealed class TarReader(Stream stream)
{
    public const int BlockSize = 512;

    /// <summary>A GNU long name or PAX header past this is not a name any filesystem here takes.</summary>
    public const int MaxMetaBytes = 64 * 1024;

    private readonly byte[] _block = new byte[BlockSize];
    private long _pending;

    /// <summary>The next entry, or null at the end of the archive. Skips whatever of the previous entry was not read.</summary>
    public async Task<TarItem?> NextAsync(CancellationToken cancellationToken)
    {
        await SkipAsync(_pending, cancellationToken);
        _pending = 0;
        byte[]? longName = null, longLink = null;
        byte[]? paxPath = null, paxLink = null;
        long? paxSize = null;
        while (true)
        {
            if (!await ReadBlockAsync(_block, allowEnd: true, cancellationToken) || IsZero(_block))
            {
                return null;
            }

            if (!ChecksumMatches(_block))
            {
                throw new InvalidDataException("a tar header's checksum does not match");
            }

            var type = (char)_block[156];
            var size = ParseNumber(_block.AsSpan(124, 12));
            if (size < 0)
            {
                throw new InvalidDataException("a tar header has a negative or unreadable size");
            }

            switch (type)
            {
                case 'L':
                    longName = TrimNul(await ReadMetaAsync(size, cancellationToken));
                    continue;
                case 'K':
                    longLink = TrimNul(await ReadMetaAsync(size, cancellationToken));
                    continue;
                case 'x':
                    foreach (var (key, value) in ParsePax(await ReadMetaAsync(size, cancellationToken)))
                    {
                        switch (key)
                        {
                            case "path": paxPath = value; break;
                            case "linkpath": paxLink = value; break;
                            case "size": paxSize = long.TryParse(value, out var s) && s >= 0 ? s : throw new InvalidDataException("a PAX size is not a number"); break;
                        }
                    }

                    continue;
                case 'g':
                    await ReadMetaAsync(size, cancellationToken);
                    continue;
            }

            var name = paxPath ?? longName ?? UstarName(_block);
            var link = paxLink ?? longLink ?? TrimNul(_block.AsSpan(157, 100).ToArray());
            size = paxSize ?? size;

            // Only regular files carry data; for links, folders and devices a size is meaningless.
            _pending = type is '0' or '\0' or '7' ? Padded(size) : 0;
            var mode = (int)Math.Max(0, ParseNumber(_block.AsSpan(100, 8)));
            return new TarItem(name, type == '\0' ? '0' : type, type is '0' or '\0' or '7' ? size : 0, mode, link);
        }
    }

    /// <summary>Copies the current entry's content (exactly <paramref name="size"/> bytes) to <paramref name="destination"/>.</summary>
    public async Task CopyContentAsync(long size, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            var left = size;
            while (left > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
                if (read == 0)
                {
                    throw new InvalidDataException("the archive ended inside a file");
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }

            _pending -= size;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static long Padded(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;

    private async Task<byte[]> ReadMetaAsync(long size, CancellationToken cancellationToken)
    {
        if (size > MaxMetaBytes)
        {
            throw new InvalidDataException($"a tar long-name or PAX header is {size} bytes, over {MaxMetaBytes}");
        }

        var data = new byte[Padded(size)];
        await stream.ReadExactlyAsync(data, cancellationToken);
        return data.AsSpan(0, (int)size).ToArray();
    }

    private async Task SkipAsync(long bytes, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            while (bytes > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, bytes)), cancellationToken);
                if (read == 0)
                {
                    throw new InvalidDataException("the archive ended inside a file");
                }

                bytes -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<bool> ReadBlockAsync(byte[] block, bool allowEnd, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < block.Length)
        {
            var read = await stream.ReadAsync(block.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return filled == 0 && allowEnd ? false : throw new InvalidDataException("the archive ended inside a header");
            }

            filled += read;
        }

        return true;
    }

    private static bool IsZero(byte[] block) => !block.AsSpan().ContainsAnyExcept((byte)0);

    private static bool ChecksumMatches(byte[] block)
    {
        long sum = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            sum += i is >= 148 and < 156 ? (byte)' ' : block[i];
        }

        return ParseNumber(block.AsSpan(148, 8)) == sum;
    }

    /// <summary>Octal (NUL/space terminated), or GNU base-256 for large values; -1 when unreadable.</summary>
    internal static long ParseNumber(ReadOnlySpan<byte> field)
    {
        if (field.Length > 0 && (field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x40) != 0 || field.Length > 9 && field[1..^8].ContainsAnyExcept((byte)0))
            {
                return -1;
            }

            long value = 0;
            foreach (var b in field[Math.Max(1, field.Length - 8)..])
            {
                value = (value << 8) | b;
            }

            return value < 0 ? -1 : value;
        }

        long result = 0;
        var seen = false;
        foreach (var b in field)
        {
            if (b is (byte)' ' or 0)
            {
                if (seen)
                {
                    break;
                }

                continue;
            }

            if (b is < (byte)'0' or > (byte)'7' || result > long.MaxValue >> 3)
            {
                return -1;
            }

            result = (result << 3) | (long)(b - '0');
            seen = true;
        }

        return result;
    }

    private static byte[] UstarName(byte[] block)
    {
        var name = TrimNul(block.AsSpan(0, 100).ToArray());
        var isUstar = block.AsSpan(257, 5).SequenceEqual("ustar"u8);
        var prefix = isUstar ? TrimNul(block.AsSpan(345, 155).ToArray()) : [];
        return prefix.Length == 0 ? name : [.. prefix, (byte)'/', .. name];
    }

    private static byte[] TrimNul(byte[] bytes)
    {
        var end = Array.IndexOf(bytes, (byte)0);
        return end < 0 ? bytes : bytes[..end];
    }

    /// <summary>PAX records: <c>LEN key=value\n</c>, LEN counting the whole record.</summary>
    private static List<(string Key, byte[] Value)> ParsePax(byte[] data)
    {
        var records = new List<(string, byte[])>();
        var i = 0;
        while (i < data.Length)
        {
            var space = Array.IndexOf(data, (byte)' ', i);
            if (space < 0 || !int.TryParse(data.AsSpan(i, space - i), out var length) || length <= space - i || i + length > data.Length || data[i + length - 1] != '\n')
            {
                throw new InvalidDataException("a PAX header is malformed");
            }

            var record = data.AsSpan(space + 1, i + length - 1 - space - 1);
            var equals = record.IndexOf((byte)'=');
            if (equals < 0)
            {
                throw new InvalidDataException("a PAX record has no '='");
            }

            // Kept as bytes: a path that is not UTF-8 is judged by the caller, never silently altered here.
            records.Add((Encoding.ASCII.GetString(record[..equals]), record[(equals + 1)..].ToArray()));
            i += length;
        }

        return records;
    }
}
