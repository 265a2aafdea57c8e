namespace SandboxRunner.Auth;

/// <summary>The ChatGPT sign-in cannot be used; the message says what is wrong and how to fix it (usually <c>codex login</c>).</summary>
public sealed class ChatGptAuthException(string message) : Exception(message)
{
    public const string LoginFix = "run `codex login` on this machine (the host, not a task) and start the run again";
}
