using System.Text;

namespace SandboxRunner.Testcontainers;

/// <summary>One thing a scripted agent does, in order: what a model would have told Codex to do.</summary>
public abstract record AgentStep
{
    private protected AgentStep()
    {
    }

    /// <summary>Creates or overwrites a file (relative to the task's checkout), parents created.</summary>
    public static AgentStep Write(string path, string text) => new WriteStep(path, text);

    /// <summary>Appends to a file, creating it when missing.</summary>
    public static AgentStep Append(string path, string text) => new AppendStep(path, text);

    public static AgentStep Delete(string path) => new DeleteStep(path);

    /// <summary>Runs one line through <c>/bin/bash -lc</c> in the checkout, as Codex runs a model's commands; its real exit code is reported.</summary>
    public static AgentStep Run(string command) => new RunStep(command);

    /// <summary>A message from the agent; the last one is the task's summary.</summary>
    public static AgentStep Message(string text) => new MessageStep(text);

    /// <summary>The turn fails with this error (as when the model API fails): the task ends <c>failed</c>.</summary>
    public static AgentStep Fail(string error) => new FailStep(error);

    /// <summary>Waits, e.g. to cancel or time out a task in a test.</summary>
    public static AgentStep Sleep(TimeSpan duration) => new SleepStep(duration);

    /// <summary>The step as a line of the fake Codex CLI's step language (images/fake-codex/README.md).</summary>
    internal abstract string Line();

    internal static string PathArgument(string path, string step)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException($"{step}: the path '{path}' must be non-blank without spaces or control characters", nameof(path));
        }

        return path;
    }

    internal static string Escape(string text, string step)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains('\r', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{step}: the text must not contain carriage returns", nameof(text));
        }

        return text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
    }
}

internal sealed record WriteStep(string Path, string Text) : AgentStep
{
    internal override string Line() => $"@write {PathArgument(Path, "Write")} {Escape(Text, "Write")}";
}

internal sealed record AppendStep(string Path, string Text) : AgentStep
{
    internal override string Line() => $"@append {PathArgument(Path, "Append")} {Escape(Text, "Append")}";
}

internal sealed record DeleteStep(string Path) : AgentStep
{
    internal override string Line() => $"@delete {PathArgument(Path, "Delete")}";
}

internal sealed record RunStep(string Command) : AgentStep
{
    internal override string Line() =>
        string.IsNullOrWhiteSpace(Command) || Command.Contains('\n', StringComparison.Ordinal) || Command.Contains('\r', StringComparison.Ordinal)
            ? throw new ArgumentException($"Run: the command must be one non-blank line (got '{Command}'); join commands with ';' or '&&'", nameof(Command))
            : $"@run * {Command}";
}

internal sealed record MessageStep(string Text) : AgentStep
{
    internal override string Line() => $"@message {Escape(Text, "Message")}";
}

internal sealed record FailStep(string Error) : AgentStep
{
    internal override string Line() => $"@fail {Escape(Error, "Fail")}";
}

internal sealed record SleepStep(TimeSpan Duration) : AgentStep
{
    internal override string Line() =>
        Duration < TimeSpan.Zero
            ? throw new ArgumentException("Sleep: the duration must not be negative", nameof(Duration))
            : $"@sleep {Duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// What a scripted agent does for one task: the stand-in for a model in tests that must run offline and
/// the same every time. The runner judges it exactly as it judges the real Codex CLI (paths, commands,
/// verification), since it runs the fake Codex CLI in the same hardened container.
/// </summary>
public sealed record AgentScript(IReadOnlyList<AgentStep> Steps)
{
    public static AgentScript Of(params AgentStep[] steps) => new(steps);

    /// <summary>
    /// The task's prompt for the fake Codex CLI: the prompt as written (with any line that starts with <c>@</c>
    /// indented, so it cannot become a step), then one line per step.
    /// </summary>
    internal string PromptFor(string prompt)
    {
        var text = new StringBuilder();
        foreach (var line in prompt.Split('\n'))
        {
            text.Append(line.StartsWith('@') ? " " + line : line).Append('\n');
        }

        foreach (var step in Steps)
        {
            text.Append(step.Line()).Append('\n');
        }

        return text.ToString().TrimEnd('\n');
    }
}
