namespace SandboxRunner.Platform;

/// <summary>The one way agent text is shortened for a result, a note or a log line: cut, with an ellipsis saying so.</summary>
public static class TextCap
{
    public static string Cap(string text, int chars) => text.Length > chars ? text[..chars] + "…" : text;
}
