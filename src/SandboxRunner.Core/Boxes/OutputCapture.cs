using System.Buffers;
using System.Text;

namespace SandboxRunner.Boxes;

/// <summary>
/// Turns a container's demultiplexed output into whole lines and keeps a bounded tail of each stream for
/// the result. A stream may be far larger than the tail (megabytes of JSONL): every stdout line still
/// reaches <see cref="StdoutLine"/>, but only whole lines are kept, so the kept stdout is still valid JSONL.
/// </summary>
public sealed class OutputCapture(int tailBytesPerStream = OutputCapture.DefaultTailBytes, int combinedTailChars = 500)
{
    public const int DefaultTailBytes = 64 * 1024;

    /// <summary>Longest line handed on; longer lines are counted and dropped rather than held in memory.</summary>
    private const int MaxLineBytes = 32 * 1024 * 1024;

    private readonly LineTail _stdout = new(tailBytesPerStream);
    private readonly LineTail _stderr = new(tailBytesPerStream);
    private readonly ArrayBufferWriter<byte> _stdoutPartial = new();
    private readonly ArrayBufferWriter<byte> _stderrPartial = new();
    private readonly bool[] _overflowing = new bool[2];
    private readonly StringBuilder _combined = new();
    private readonly Lock _gate = new();

    /// <summary>Raised for every complete stdout line, in order.</summary>
    public event Action<string>? StdoutLine;

    /// <summary>Raised for every complete stderr line, in order.</summary>
    public event Action<string>? StderrLine;

    public long StdoutBytes { get; private set; }
    public long StderrBytes { get; private set; }
    public int OversizedLines { get; private set; }

    public string Stdout => _stdout.ToString();
    public string Stderr => _stderr.ToString();
    public bool Truncated => _stdout.Dropped || _stderr.Dropped;

    /// <summary>The last characters of both streams as they interleaved.</summary>
    public string CombinedTail => _combined.Length > combinedTailChars
        ? _combined.ToString(_combined.Length - combinedTailChars, combinedTailChars)
        : _combined.ToString();

    public void Write(LogStream stream, ReadOnlySpan<byte> chunk)
    {
        lock (_gate)
        {
            var partial = stream == LogStream.Stdout ? _stdoutPartial : _stderrPartial;
            if (stream == LogStream.Stdout)
            {
                StdoutBytes += chunk.Length;
            }
            else
            {
                StderrBytes += chunk.Length;
            }

            while (!chunk.IsEmpty)
            {
                var newline = chunk.IndexOf((byte)'\n');
                var piece = newline < 0 ? chunk : chunk[..newline];
                if (partial.WrittenCount + piece.Length <= MaxLineBytes)
                {
                    partial.Write(piece);
                }
                else
                {
                    _overflowing[(int)stream] = true;
                    partial.ResetWrittenCount();
                }

                if (newline < 0)
                {
                    break;
                }

                EmitLine(stream, partial);
                chunk = chunk[(newline + 1)..];
            }
        }
    }

    /// <summary>Emits whatever is left without a final newline.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_stdoutPartial.WrittenCount > 0 || _overflowing[(int)LogStream.Stdout])
            {
                EmitLine(LogStream.Stdout, _stdoutPartial);
            }

            if (_stderrPartial.WrittenCount > 0 || _overflowing[(int)LogStream.Stderr])
            {
                EmitLine(LogStream.Stderr, _stderrPartial);
            }
        }
    }

    private void EmitLine(LogStream stream, ArrayBufferWriter<byte> partial)
    {
        if (_overflowing[(int)stream])
        {
            OversizedLines++;
            _overflowing[(int)stream] = false;
            partial.ResetWrittenCount();
            return;
        }

        var line = Encoding.UTF8.GetString(partial.WrittenSpan).TrimEnd('\r');
        partial.ResetWrittenCount();
        (stream == LogStream.Stdout ? _stdout : _stderr).Add(line);
        _combined.Append(line).Append('\n');
        if (_combined.Length > combinedTailChars * 2)
        {
            _combined.Remove(0, _combined.Length - combinedTailChars);
        }

        (stream == LogStream.Stdout ? StdoutLine : StderrLine)?.Invoke(line);
    }

    /// <summary>The newest whole lines that fit in a byte budget.</summary>
    private sealed class LineTail(int budget)
    {
        private readonly LinkedList<string> _lines = new();
        private int _size;

        public bool Dropped { get; private set; }

        public void Add(string line)
        {
            var size = Encoding.UTF8.GetByteCount(line) + 1;
            if (size > budget)
            {
                Dropped = true;
                return;
            }

            _lines.AddLast(line);
            _size += size;
            while (_size > budget)
            {
                _size -= Encoding.UTF8.GetByteCount(_lines.First!.Value) + 1;
                _lines.RemoveFirst();
                Dropped = true;
            }
        }

        public override string ToString() => _lines.Count == 0 ? "" : string.Join('\n', _lines) + "\n";
    }
}
