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
}
