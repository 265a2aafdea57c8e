using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Fakes;

/// <summary>One container of the <see cref="FakeEngine"/>, and what its agent can do from inside it.</summary>
internal sealed class FakeContainer
{
    private readonly Lock _gate = new();
    private readonly List<(LogStream Stream, byte[] Bytes)> _output = [];
    private readonly TaskCompletionSource<long> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _kill = new();
    private TaskCompletionSource _outputChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _agent = Task.CompletedTask;
    private bool _killed;

    internal FakeContainer(string id, ContainerSpec spec, IReadOnlyDictionary<string, string> labels)
    {
        Id = id;
        Spec = spec;
        Labels = labels;
    }

    public string Id { get; }
    public ContainerSpec Spec { get; }
    public IReadOnlyDictionary<string, string> Labels { get; }
    public FakeContainerState State { get; private set; }

    public string? TaskId => Labels.GetValueOrDefault(SandboxRunner.Boxes.Labels.Task);
    public string? RunId => Labels.GetValueOrDefault(SandboxRunner.Boxes.Labels.Run);

    /// <summary>Which attempt of its task the container runs (null for a task run once).</summary>
    public int? Attempt => Labels.TryGetValue(SandboxRunner.Boxes.Labels.Attempt, out var k) ? int.Parse(k, System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>Whether this is where a task's verify commands run, rather than its agent.</summary>
    public bool IsVerification => Labels.GetValueOrDefault(SandboxRunner.Boxes.Labels.Role) == SandboxRunner.Boxes.Labels.VerifyRole;

    /// <summary>The exit code, once the container has exited.</summary>
    public long? ExitCode => _exit.Task.IsCompletedSuccessfully ? _exit.Task.Result : null;

    /// <summary>What the agent threw, other than the kill's cancellation (the container then exited with 255).</summary>
    public Exception? AgentError { get; private set; }

    /// <summary>Files inside the container but outside its bind mounts (e.g. Codex's last message), by absolute container path.</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>The files its image gave it (<see cref="Files"/> at creation): what changes are measured against.</summary>
    public IReadOnlyDictionary<string, byte[]> ImageFiles { get; private set; } = new Dictionary<string, byte[]>();

    internal void Seed(IReadOnlyDictionary<string, byte[]>? files)
    {
        ImageFiles = files ?? new Dictionary<string, byte[]>();
        foreach (var (path, bytes) in ImageFiles)
        {
            Files[path] = bytes;
        }
    }

    /// <summary>What the runner wrote to the container's standard input when it started it, if anything.</summary>
    public byte[]? Stdin { get; set; }

    /// <summary>The host folder mounted at <see cref="CodexCommandLine.Workspace"/>: the task's checkout.</summary>
    public string Workspace => Spec.Mounts.Single(m => m.Target == CodexCommandLine.Workspace).Source;

    public long StdoutBytes { get; private set; }

    internal Task<long> Exit => _exit.Task;

    /// <summary>Cancelled when the container is killed.</summary>
    internal CancellationToken KillToken => _kill.Token;

    public string PathInWorkspace(string relative) => Path.Combine(Workspace, relative);

    /// <summary>Writes a file of the checkout, creating its folders.</summary>
    public void WriteFile(string relative, string content) => WriteFile(relative, Encoding.UTF8.GetBytes(content));

    public void WriteFile(string relative, byte[] content)
    {
        var full = PathInWorkspace(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    /// <summary>What <c>codex exec -o</c> leaves: the final message, which the runner reads from the container.</summary>
    public void WriteLastMessage(string text) => Files[CodexCommandLine.LastMessageFile] = Encoding.UTF8.GetBytes(text);

    public void Stdout(string line) => Emit(LogStream.Stdout, Encoding.UTF8.GetBytes(line + "\n"));

    public void Stderr(string line) => Emit(LogStream.Stderr, Encoding.UTF8.GetBytes(line + "\n"));

    /// <summary>Output of the container; what is written after it exited is lost, as it is with a real process.</summary>
    public void Emit(LogStream stream, ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (State != FakeContainerState.Running)
            {
                return;
            }

            _output.Add((stream, bytes.ToArray()));
            if (stream == LogStream.Stdout)
            {
                StdoutBytes += bytes.Length;
            }

            PulseLocked();
        }
    }

    internal void Start(FakeAgent agent, Action onExit)
    {
        lock (_gate)
        {
            if (State != FakeContainerState.Created)
            {
                throw new InvalidOperationException($"Docker: container {Id[..12]} is {State}, it cannot be started");
            }

            State = FakeContainerState.Running;
        }

        _agent = Task.Run(async () =>
        {
            long code;
            try
            {
                code = await agent(this, _kill.Token);
            }
            catch (OperationCanceledException) when (_kill.IsCancellationRequested)
            {
                code = FakeEngine.KilledExitCode;
            }
            catch (Exception e)
            {
                AgentError = e;
                Stderr($"fake agent failed: {e}");
                code = 255;
            }

            lock (_gate)
            {
                State = FakeContainerState.Exited;
                PulseLocked();
            }

            onExit();
            _exit.TrySetResult(_killed ? FakeEngine.KilledExitCode : code);
        });
    }

    /// <summary>
    /// SIGKILL: the agent's token is cancelled and the kill returns once it has stopped, so nothing writes
    /// into the workspace after the runner believes the container gone. Agents must honour the token.
    /// </summary>
    internal async Task KillAsync()
    {
        lock (_gate)
        {
            if (State != FakeContainerState.Running)
            {
                return;
            }

            _killed = true;
        }

        await _kill.CancelAsync();
        await _agent;
    }

    internal void MarkRemoved()
    {
        lock (_gate)
        {
            if (State == FakeContainerState.Created)
            {
                // Never started: nothing will ever complete a wait on it, so removal does, as Docker's does.
                _exit.TrySetResult(FakeEngine.KilledExitCode);
            }

            State = FakeContainerState.Removed;
            PulseLocked();
        }

        _kill.Dispose();
    }

    internal async Task ReadLogsAsync(bool follow, bool lagUntilExit, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken)
    {
        var next = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (LogStream Stream, byte[] Bytes)[] batch;
            bool ended;
            Task changed;
            lock (_gate)
            {
                ended = State is FakeContainerState.Exited or FakeContainerState.Removed;
                batch = lagUntilExit && !ended ? [] : _output.Skip(next).ToArray();
                next += batch.Length;
                changed = _outputChanged.Task;
            }

            foreach (var (stream, bytes) in batch)
            {
                onChunk(stream, bytes);
            }

            // The batch was taken together with the state, so an ended container's output is all delivered.
            if (!follow || ended)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private void PulseLocked()
    {
        var changed = _outputChanged;
        _outputChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
