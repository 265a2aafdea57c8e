using System.Text.Json;
using System.Text.Json.Serialization;

namespace SandboxRunner.Codex;

/// <summary>Token counts summed over every <c>turn.completed</c>.</summary>
public sealed record CodexUsage(
    [property: JsonPropertyName("input_tokens")] long InputTokens,
    [property: JsonPropertyName("cached_input_tokens")] long CachedInputTokens,
    [property: JsonPropertyName("cache_write_input_tokens")] long CacheWriteInputTokens,
    [property: JsonPropertyName("output_tokens")] long OutputTokens,
    [property: JsonPropertyName("reasoning_output_tokens")] long ReasoningOutputTokens)
{
    public static CodexUsage Zero { get; } = new(0, 0, 0, 0, 0);

    public CodexUsage Add(CodexUsage other) => new(
        InputTokens + other.InputTokens,
        CachedInputTokens + other.CachedInputTokens,
        CacheWriteInputTokens + other.CacheWriteInputTokens,
        OutputTokens + other.OutputTokens,
        ReasoningOutputTokens + other.ReasoningOutputTokens);
}

/// <summary>A command Codex ran, as its JSONL reported it (<c>cmd</c> is the wrapped form, e.g. <c>/bin/bash -lc '...'</c>).</summary>
public sealed record CommandRun(
    [property: JsonPropertyName("cmd")] string Cmd,
    [property: JsonPropertyName("exit_code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? ExitCode,
    [property: JsonPropertyName("status")] string Status)
{
    /// <summary>
    /// The end of the command's output as Codex reported it (<c>aggregated_output</c>): what a manager reads to
    /// see the agent's own test run. Bounded here and again in the result, redacted and made terminal-safe there.
    /// </summary>
    [JsonPropertyName("output_tail")]
    public string OutputTail { get; init; } = "";
}

/// <summary>A change Codex said it made. Only a claim: results are computed from the worktree.</summary>
public sealed record ClaimedChange(string Path, string Kind);

/// <summary>
/// What one <c>codex exec --json</c> run said, folded line by line from its stdout (schema of Codex 0.169,
/// codex-rs/exec/src/exec_events.rs). Unknown event types and fields are ignored; lines that are not
/// JSON objects are counted, not fatal. Only <c>turn.failed</c> marks the turn as failed: top-level
/// <c>error</c> events ("Reconnecting... 1/5") and <c>error</c> items are warnings.
/// <para>
/// Bounded whatever the agent prints: commands are kept up to <see cref="MaxCommands"/> and
/// <see cref="MaxCommandChars"/> of command text in all (those past either are counted in
/// <see cref="CommandsNotKept"/>, which the judge treats as unauditable), warnings as a few distinct
/// samples and a count, messages and claims capped.
/// </para>
/// </summary>
public sealed class CodexTranscript
{
    public const int MaxCommands = 1000;
    public const long MaxCommandChars = 8L * 1024 * 1024;
    private const int MaxWarnings = 20;
    private const int MaxWarningChars = 500;
    private const int MaxMessageChars = 64 * 1024;
    private const int MaxClaimedChanges = 1000;
    /// <summary>Characters of each command's output kept (its end).</summary>
    public const int OutputTailChars = 4096;
    private long _commandChars;
    private readonly List<CommandRun> _commands = [];
    private readonly List<ClaimedChange> _claimedChanges = [];
    private readonly List<string> _warnings = [];

    public string? ThreadId { get; private set; }
    /// <summary>
    /// Every command reported: completed ones in order, then those Codex started but never finished (a
    /// task killed at its deadline mid-command), which are audited all the same.
    /// </summary>
    public IReadOnlyList<CommandRun> Commands => _started.Count == 0 ? _commands : [.. _commands, .. _started.Values];

    /// <summary>Commands with an <c>item.started</c> and no <c>item.completed</c> yet, by item id.</summary>
    private readonly Dictionary<string, CommandRun> _started = new(StringComparer.Ordinal);
    public IReadOnlyList<ClaimedChange> ClaimedChanges => _claimedChanges;
    public IReadOnlyList<string> Warnings => _warnings;
    public string? LastAgentMessage { get; private set; }
    public string? TurnFailure { get; private set; }
    public bool TurnCompleted { get; private set; }
    public CodexUsage Usage { get; private set; } = CodexUsage.Zero;
    public int EventCount { get; private set; }
    public int UnparsedLines { get; private set; }

    /// <summary>Commands Codex reported past what is kept: they cannot be audited.</summary>
    public int CommandsNotKept { get; private set; }

    /// <summary>Every warning, including those not kept as samples in <see cref="Warnings"/>.</summary>
    public int WarningCount { get; private set; }

    /// <summary>Raised for each command that finished, so a caller can report progress.</summary>
    public event Action<CommandRun>? CommandCompleted;

    public static CodexTranscript Parse(IEnumerable<string> lines)
    {
        var transcript = new CodexTranscript();
        foreach (var line in lines)
        {
            transcript.Accept(line);
        }

        return transcript;
    }

    public void Accept(string line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || Str(doc.RootElement, "type") is not { } type)
            {
                UnparsedLines++;
                return;
            }

            Apply(type, doc.RootElement);

            // Counted once applied: an event whose strings fail to decode half-way is an unparsed line, not both.
            EventCount++;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: valid JSON whose strings do not decode (an unpaired surrogate escape).
            UnparsedLines++;
        }
    }

    private void Apply(string type, JsonElement e)
    {
        switch (type)
        {
            case "thread.started":
                ThreadId = Str(e, "thread_id");
                break;
            case "turn.completed":
                TurnCompleted = true;
                if (e.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    Usage = Usage.Add(new CodexUsage(
                        Long(usage, "input_tokens"),
                        Long(usage, "cached_input_tokens"),
                        Long(usage, "cache_write_input_tokens"),
                        Long(usage, "output_tokens"),
                        Long(usage, "reasoning_output_tokens")));
                }

                break;
            case "turn.failed":
                TurnFailure = e.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                    ? Str(error, "message") is { } failure ? ModelErrors.Condense(failure) : "turn failed"
                    : "turn failed";
                break;
            case "error":
                AddWarning(Str(e, "message"));
                break;
            case "item.started":
                if (e.TryGetProperty("item", out var startedItem) && startedItem.ValueKind == JsonValueKind.Object
                    && Str(startedItem, "type") == "command_execution" && Str(startedItem, "id") is { } startedId
                    && Str(startedItem, "command") is { } startedCommand)
                {
                    if (_started.Count + _commands.Count >= MaxCommands || _commandChars + startedCommand.Length > MaxCommandChars)
                    {
                        CommandsNotKept++;
                        break;
                    }

                    _commandChars += startedCommand.Length;
                    _started[startedId] = new CommandRun(startedCommand, null, "in_progress");
                }

                break;
            case "item.completed":
                if (e.TryGetProperty("item", out var doneItem) && doneItem.ValueKind == JsonValueKind.Object && Str(doneItem, "id") is { } doneId
                    && _started.Remove(doneId, out var pending))
                {
                    _commandChars -= pending.Cmd.Length;
                }

                if (e.TryGetProperty("item", out var item) && item.ValueKind == JsonValueKind.Object)
                {
                    ApplyCompletedItem(item);
                }

                break;
        }
    }

    private void ApplyCompletedItem(JsonElement item)
    {
        switch (Str(item, "type"))
        {
            case "agent_message":
                LastAgentMessage = Cap(Str(item, "text"), MaxMessageChars) ?? LastAgentMessage;
                break;
            case "command_execution":
                var output = Str(item, "aggregated_output") ?? "";
                var text = Str(item, "command") ?? "";
                if (_commands.Count >= MaxCommands || _commandChars + text.Length > MaxCommandChars)
                {
                    CommandsNotKept++;
                    break;
                }

                _commandChars += text.Length;
                var command = new CommandRun(
                    text,
                    item.TryGetProperty("exit_code", out var code) && code.ValueKind == JsonValueKind.Number && code.TryGetInt32(out var c) ? c : null,
                    Str(item, "status") ?? "completed")
                {
                    OutputTail = Platform.TextCap.Tail(output, OutputTailChars),
                };
                _commands.Add(command);
                CommandCompleted?.Invoke(command);
                break;
            case "file_change":
                if (item.TryGetProperty("changes", out var changes) && changes.ValueKind == JsonValueKind.Array)
                {
                    foreach (var change in changes.EnumerateArray().Where(ch => ch.ValueKind == JsonValueKind.Object))
                    {
                        if (_claimedChanges.Count >= MaxClaimedChanges)
                        {
                            break;
                        }

                        _claimedChanges.Add(new ClaimedChange(Str(change, "path") ?? "", Str(change, "kind") ?? ""));
                    }
                }

                break;
            case "error":
                AddWarning(Str(item, "message"));
                break;
        }
    }

    private void AddWarning(string? message)
    {
        WarningCount++;
        var text = Cap(message is null ? null : ModelErrors.Condense(message), MaxWarningChars) ?? "error";
        if (_warnings.Count < MaxWarnings && !_warnings.Contains(text))
        {
            _warnings.Add(text);
        }
    }

    private static string? Cap(string? text, int chars) => text is null ? null : Platform.TextCap.Cap(text, chars);

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : 0;
}
