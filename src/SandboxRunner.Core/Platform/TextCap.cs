namespace SandboxRunner.Platform;

/// <summary>The one way agent text is shortened for a result, a note or a log line: cut, with an ellipsis saying so.</summary>
public static class TextCap
{
    public static string Cap(string text, int chars) => text.Length > chars ? text[..chars] + "…" : text;

    /// <summary>The last <paramref name="chars"/> characters (never starting inside a surrogate pair), after an ellipsis when cut: the end of an output.</summary>
    public static string Tail(string text, int chars)
    {
        if (text.Length <= chars)
        {
            return text;
        }

        var start = text.Length - chars;
        if (char.IsLowSurrogate(text[start]))
        {
            start++;
        }

        return "…" + text[start..];
    }
}
