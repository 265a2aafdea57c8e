using System.Collections.Concurrent;
using System.Diagnostics;
using SandboxRunner.Runs;
using Spectre.Console;
using Spectre.Console.Rendering;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// A run's progress on stderr: on a terminal a live per-task table (Spectre.Console redraws it in place);
/// otherwise, as in a pipeline's log, one timestamped line per event. Every message is the library's,
/// already redacted and with terminal controls made visible; it is rendered as plain text, never as markup.
/// </summary>
internal sealed class ProgressView : IProgress<TaskProgress>, IAsyncDisposable
{
    private const int MessageChars = 120;
    private readonly ConcurrentDictionary<string, Row> _rows = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _done = new();
    private readonly TextWriter _lines;
    private readonly Task? _live;

    private ProgressView(IEnumerable<string> taskIds, bool terminal, TextWriter lines)
    {
        _lines = lines;
        foreach (var id in taskIds)
        {
            Add(id);
        }

        if (terminal)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            _live = console.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(async ctx =>
            {
                while (!_done.IsCancellationRequested)
                {
                    ctx.UpdateTarget(Render());
                    try
                    {
                        await Task.Delay(250, _done.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }

                ctx.UpdateTarget(Render());
            });
        }
    }

    /// <summary>A table when stderr is a terminal (and TERM is not <c>dumb</c>), timestamped lines otherwise.</summary>
    public static ProgressView Start(IEnumerable<string> taskIds) =>
        new(taskIds, !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not ("dumb" or ""), Console.Error);

    public static ProgressView Lines(IEnumerable<string> taskIds, TextWriter lines) => new(taskIds, false, lines);

    public void Report(TaskProgress value)
    {
        var row = Add(value.TaskId);
        lock (_gate)
        {
            row.State = value.State;
            row.Message = Cap(value.Message);
            row.Result = value.Result ?? row.Result;
            if (value.Standing == TaskState.Running && row.Started is null)
            {
                row.Started = Stopwatch.StartNew();
            }

            row.Started?.Stop();
            if (value.Standing == TaskState.Running)
            {
                row.Started?.Start();
            }

            if (_live is null)
            {
                _lines.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {row.Message}");
            }
        }
    }

    /// <summary>A line outside the table (interruptions, the outcome of an apply).</summary>
    public void Note(string text)
    {
        lock (_gate)
        {
            Console.Error.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {text}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _done.CancelAsync();
        if (_live is not null)
        {
            await _live;
        }

        _done.Dispose();
    }

    private Row Add(string taskId)
    {
        lock (_gate)
        {
            return _rows.GetOrAdd(taskId, id =>
            {
                _order.Add(id);
                return new Row();
            });
        }
    }

    private Table Render()
    {
        var table = new Table().Border(TableBorder.Rounded).Expand();
        table.AddColumns("task", "state", "time", "files", "tokens", "last event");
        lock (_gate)
        {
            foreach (var id in _order)
            {
                var row = _rows[id];
                var result = row.Result;
                table.AddRow(
                    new Text(id),
                    State(row),
                    new Text(row.Started is { } s ? $"{s.Elapsed.TotalSeconds:F0} s" : ""),
                    new Text(result is null ? "" : result.FilesChanged.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    new Text(result is null ? "" : (result.Usage.InputTokens + result.Usage.OutputTokens).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)),
                    new Text(row.Message ?? ""));
            }
        }

        return table;
    }

    private static IRenderable State(Row row) => row.Result?.Status switch
    {
        TaskStatus.Success => new Text("success", new Style(Color.Green)),
        TaskStatus.Skipped => new Text("skipped", new Style(Color.Grey)),
        { } status => new Text(status.Wire(), new Style(Color.Red)),
        null => new Text(row.State, new Style(row.State == "queued" ? Color.Grey : Color.Yellow)),
    };

    private static string Cap(string message)
    {
        var line = message.ReplaceLineEndings(" ");
        return line.Length <= MessageChars ? line : line[..(MessageChars - 1)] + "…";
    }

    private sealed class Row
    {
        public string State { get; set; } = "queued";
        public string? Message { get; set; }
        public TaskResult? Result { get; set; }
        public Stopwatch? Started { get; set; }
    }
}
