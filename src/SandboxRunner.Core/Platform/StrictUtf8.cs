using System.Text;

namespace SandboxRunner.Platform;

/// <summary>
/// Names and link targets from an agent's tree (a tar entry, a listing record, an index path) read as text only when
/// they are valid UTF-8 with no NUL: anything else is judged by its bytes, never guessed at with replacement characters
/// that could make two names one.
/// </summary>
public static class StrictUtf8
{
    private static readonly UTF8Encoding Encoding = new(false, throwOnInvalidBytes: true);

    public static bool TryDecode(byte[] bytes, out string text)
    {
        try
        {
            text = Encoding.GetString(bytes);
            if (!text.Contains('\0'))
            {
                return true;
            }
        }
        catch (DecoderFallbackException)
        {
        }

        text = "";
        return false;
    }

    /// <summary>Bytes that did not decode, shown for a person: printable ASCII as is, anything else as \xNN, cut at 500 bytes.</summary>
    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes[..Math.Min(bytes.Length, 500)])
        {
            text.Append(b is >= 0x20 and < 0x7f ? (char)b : $"\\x{b:x2}");
        }

        return text.ToString();
    }
}
