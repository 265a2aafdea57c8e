using System.Diagnostics;
using System.Text.Json;

namespace SandboxRunner.Tests.Fakes;

/// <summary>Lines of <c>codex exec --json</c> output in Codex 0.169's shape (see Codex/Fixtures/*.jsonl).</summary>
internal static class CodexJsonl
{
    public static string ThreadStarted() => """{"type":"thread.started","thread_id":"01a2138d-7162-7682-85b1-cb0b32393526"}""";

    public static string TurnStarted() => """{"type":"turn.started"}""";

    public static string CommandCompleted(string command, int exitCode = 0, string output = "") =>
        JsonSerializer.Serialize(new
        {
            type = "item.completed",
            item = new { id = "item_0", type = "command_execution", command, aggregated_output = output, exit_code = exitCode, status = "completed" },
        });

    public static string AgentMessage(string text) =>
        JsonSerializer.Serialize(new { type = "item.completed", item = new { id = "item_9", type = "agent_message", text } });

    public static string TurnCompleted() =>
        """{"type":"turn.completed","usage":{"input_tokens":60,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":15,"reasoning_output_tokens":0}}""";

    public static string TurnFailed(string message) =>
        JsonSerializer.Serialize(new { type = "turn.failed", error = new { message } });
}

/// <summary>Scripted agents for the <see cref="FakeEngine"/>.</summary>
internal static class FakeAgents
{
    /// <summary>Does <paramref name="work"/> inside a well-formed turn, then exits with <paramref name="exitCode"/>.</summary>
    public static FakeAgent Turn(Action<FakeContainer> work, long exitCode = 0, string message = "done") => (container, _) =>
    {
        container.Stdout(CodexJsonl.ThreadStarted());
        container.Stdout(CodexJsonl.TurnStarted());
        work(container);
        container.Stdout(CodexJsonl.AgentMessage(message));
        container.Stdout(CodexJsonl.TurnCompleted());
        container.WriteLastMessage(message);
        return Task.FromResult(exitCode);
    };

    public static FakeAgent Succeeds() => Turn(_ => { });

    /// <summary>Writes the files (path, content) into the checkout and exits 0.</summary>
    public static FakeAgent Writes(params (string Path, string Content)[] files) => Turn(c =>
    {
        foreach (var (path, content) in files)
        {
            c.WriteFile(path, content);
        }
    });

    /// <summary>
    /// Does <paramref name="work"/>, says so through <paramref name="working"/>, then runs until killed:
    /// a task that only a deadline, a limit or a cancellation ends.
    /// </summary>
    public static FakeAgent WorksUntilKilled(Action<FakeContainer> work, TaskCompletionSource<FakeContainer>? working = null) => async (container, killed) =>
    {
        container.Stdout(CodexJsonl.ThreadStarted());
        work(container);
        working?.TrySetResult(container);
        await Task.Delay(Timeout.Infinite, killed);
        return 0;
    };

    /// <summary>Each task gets the agent its id names; the rest get <paramref name="otherwise"/>.</summary>
    public static FakeAgent ByTask(IReadOnlyDictionary<string, FakeAgent> agents, FakeAgent? otherwise = null) => (container, killed) =>
        (agents.TryGetValue(container.TaskId ?? "", out var agent) ? agent : otherwise ?? Succeeds())(container, killed);

    /// <summary>Creates a FIFO, as <c>mkfifo</c> inside the container would.</summary>
    public static void MakeFifo(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var process = Process.Start(new ProcessStartInfo("mkfifo") { ArgumentList = { path }, UseShellExecute = false })!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"mkfifo {path} failed with {process.ExitCode}");
        }
    }
}
