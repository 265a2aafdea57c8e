using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using SandboxRunner.Git;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>One observed call: what it was and when it started and ended (<see cref="Stopwatch"/> timestamps).</summary>
internal sealed record CallEvent(string Name, long Start, long End, string? Container = null)
{
    public double Ms => Timing.Ms(Start, End);
}

/// <summary>
/// The real engine with a timestamp on each call the runner makes, so a task's time can be split into
/// its Docker calls without touching the runner. A <see cref="DispatchProxy"/> rather than a hand-written
/// decorator, so it keeps compiling while <see cref="IContainerEngine"/> grows. Every call reaches Docker.
/// </summary>
#pragma warning disable CA1852 // DispatchProxy derives the proxy type from it at run time
internal class TimingEngine : DispatchProxy
#pragma warning restore CA1852
{
    private readonly ConcurrentQueue<CallEvent> _events = new();
    private readonly ConcurrentDictionary<string, byte> _everCreated = new(StringComparer.Ordinal);
    private IContainerEngine _inner = null!;

    /// <summary>Every container created through this engine and not removed through it, so the benchmark can clean up after a failure.</summary>
    public ConcurrentDictionary<string, byte> Created { get; } = new(StringComparer.Ordinal);

    /// <summary>The spec each container was created with, so a benchmark can tell task, setup and auxiliary containers apart by their labels.</summary>
    public ConcurrentDictionary<string, ContainerSpec> Specs { get; } = new(StringComparer.Ordinal);

    /// <summary>Every network created through this engine (by name) and not removed through it.</summary>
    public ConcurrentDictionary<string, byte> CreatedNetworks { get; } = new(StringComparer.Ordinal);

    /// <summary>Completed calls, named by method (e.g. <c>CreateAsync</c>), with the container they concerned if any.</summary>
    public IReadOnlyList<CallEvent> Events => [.. _events];

    public void Clear() => _events.Clear();

    public static (IContainerEngine Engine, TimingEngine Timing) Wrap(IContainerEngine inner)
    {
        var engine = DispatchProxy.Create<IContainerEngine, TimingEngine>();
        var timing = (TimingEngine)(object)engine;
        timing._inner = inner;
        return (engine, timing);
    }

    /// <summary>
    /// Runs before each container is removed, untimed: a last look at it (its engine-side start and finish
    /// times, say). The removal waits for it.
    /// </summary>
    public Func<string, Task>? BeforeRemove { get; set; }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(IContainerEngine.RemoveAsync) && BeforeRemove is { } look && args is [string id, ..])
        {
            return LookThenRemoveAsync(look, id, targetMethod, args);
        }

        return Timed(targetMethod, args);
    }

    private async Task LookThenRemoveAsync(Func<string, Task> look, string containerId, MethodInfo remove, object?[] args)
    {
        await look(containerId);
        await (Task)Timed(remove, args)!;
    }

    private object? Timed(MethodInfo targetMethod, object?[]? args)
    {
        var start = Stopwatch.GetTimestamp();
        object? result;
        try
        {
            result = targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }

        if (result is Task task)
        {
            var name = targetMethod.Name;
            var strings = (args ?? []).OfType<string>().ToArray();
            var spec = (args ?? []).OfType<ContainerSpec>().FirstOrDefault();
            _ = task.ContinueWith(
                done => Completed(name, strings, spec, start, done),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return result;
    }

    private void Completed(string method, string[] stringArgs, ContainerSpec? spec, long start, Task done)
    {
        var end = Stopwatch.GetTimestamp();
        string? container = null;
        if (method == nameof(IContainerEngine.CreateAsync) && done is Task<string> { IsCompletedSuccessfully: true } created)
        {
            container = created.Result;
            _everCreated[container] = 0;
            Created[container] = 0;
            if (spec is not null)
            {
                Specs[container] = spec;
            }
        }
        else
        {
            container = stringArgs.FirstOrDefault(_everCreated.ContainsKey);
        }

        if (done.IsCompletedSuccessfully && stringArgs.Length > 0)
        {
            if (method == nameof(IContainerEngine.RemoveAsync))
            {
                Created.TryRemove(stringArgs[0], out _);
            }
            else if (method.StartsWith("CreateNetwork", StringComparison.Ordinal))
            {
                CreatedNetworks[stringArgs[0]] = 0;
            }
            else if (method.StartsWith("RemoveNetwork", StringComparison.Ordinal))
            {
                CreatedNetworks.TryRemove(stringArgs[0], out _);
            }
        }

        _events.Enqueue(new CallEvent(method, start, end, container));
    }
}

/// <summary>
/// An <see cref="ILogger{GitCli}"/> that keeps GitCli's own per-call record ("git {Args} -> {ExitCode} in
/// {Milliseconds} ms"), which is how the benchmark sees the runner's git calls from outside.
/// </summary>
internal sealed class GitCallRecorder : ILogger<GitCli>
{
    private readonly ConcurrentQueue<CallEvent> _events = new();

    public IReadOnlyList<CallEvent> Events => [.. _events];

    public void Clear() => _events.Clear();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var end = Stopwatch.GetTimestamp();
        if (state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
        {
            return;
        }

        string? args = null;
        double? ms = null;
        foreach (var (key, value) in fields)
        {
            if (key == "Args")
            {
                args = value as string;
            }
            else if (key == "Milliseconds" && value is double d)
            {
                ms = d;
            }
        }

        if (args is not null && ms is { } elapsed)
        {
            _events.Enqueue(new CallEvent(args, end - (long)(elapsed * Stopwatch.Frequency / 1000.0), end));
        }
    }
}
