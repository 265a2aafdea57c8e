using SandboxRunner.Runs;

namespace SandboxRunner.Testcontainers;

/// <summary>
/// One task for a <see cref="CodexTaskRunner"/>: the <c>tasks[]</c> item of <c>run_codex_tasks</c>, with the
/// <see cref="AgentScript"/> a scripted model plays for it. Fields left null take the run's or the config's.
/// </summary>
public sealed record CodexTask(string Id, string Prompt)
{
    /// <summary>Required with <c>WithScriptedModel()</c>; refused with a real model.</summary>
    public AgentScript? Script { get; init; }

    public IReadOnlyList<string>? AllowedPaths { get; init; }

    public IReadOnlyList<string>? AllowedCommands { get; init; }

    public IReadOnlyList<string>? Verify { get; init; }

    public string? Environment { get; init; }

    public int? TimeoutSec { get; init; }

    public int? Attempts { get; init; }

    /// <summary>A task played by a scripted agent.</summary>
    public static CodexTask Scripted(string id, string prompt, params AgentStep[] steps) => new(id, prompt) { Script = new AgentScript(steps) };

    internal TaskRequest ToRequest(ModelSource model)
    {
        var prompt = (model, Script) switch
        {
            (ModelSource.Scripted, null) => throw new ArgumentException($"task '{Id}': a scripted model needs the task's {nameof(Script)} (CodexTask.Scripted(id, prompt, steps...))"),
            (ModelSource.Scripted, { } script) => script.PromptFor(Prompt),
            (_, null) => Prompt,
            (_, _) => throw new ArgumentException($"task '{Id}': a {nameof(Script)} is only played by a scripted model (the builder's WithScriptedModel())"),
        };
        return new TaskRequest
        {
            TaskId = Id,
            Prompt = prompt,
            AllowedPaths = AllowedPaths,
            AllowedCommands = AllowedCommands,
            Verify = Verify,
            Environment = Environment,
            TimeoutSec = TimeoutSec,
            Attempts = Attempts,
        };
    }
}
