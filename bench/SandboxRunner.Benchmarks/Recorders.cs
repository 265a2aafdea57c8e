using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Web;
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

/// <summary>The Docker API calls the benchmarks pick out by name: method and path, with the id in the path as <c>{id}</c>.</summary>
internal static class DockerCalls
{
    public const string Create = "POST /containers/create";
    public const string Start = "POST /containers/{id}/start";
    public const string Wait = "POST /containers/{id}/wait";
    public const string Remove = "DELETE /containers/{id}";
    public const string PutArchive = "PUT /containers/{id}/archive";
    public const string ExecCreate = "POST /containers/{id}/exec";
    public const string ExecStart = "POST /exec/{id}/start";
    public const string Commit = "POST /commit";
    public const string Build = "POST /build";
    public const string NetworkCreate = "POST /networks/create";
    public const string NetworkRemove = "DELETE /networks/{id}";
}

/// <summary>A container as it was created: its image and labels (what tells task, setup and auxiliary containers apart).</summary>
internal sealed record CreatedContainer(string Image, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// Every Docker API call of a backend, timestamped, so a task's time can be split into its engine calls without touching
/// the runner. It sits under Docker.DotNet as a <see cref="DelegatingHandler"/> (<see cref="EngineConnection.WrapHandler"/>),
/// so it sees each request whichever part of the backend makes it, and keeps seeing them as the runner's seams move (a
/// proxy over <see cref="IContainerEngine"/> stopped seeing anything when the runner moved onto <see cref="ITaskBackend"/>).
/// A call lasts from its request to the disposal of its response, which Docker.DotNet does once it has read the body or
/// the caller has closed the stream: a wait ends when the container has exited, a log follow or an exec's hijacked stream
/// when it ended, an archive read once the caller has extracted it.
/// </summary>
internal sealed class EngineCallRecorder
{
    private readonly ConcurrentQueue<CallEvent> _events = new();
    private readonly ConcurrentDictionary<string, string> _execs = new(StringComparer.Ordinal);

    /// <summary>Every container created through the recorded clients and not removed through them, so the benchmark can clean up after a failure.</summary>
    public ConcurrentDictionary<string, byte> Created { get; } = new(StringComparer.Ordinal);

    /// <summary>What each container was created with, so a benchmark can tell task, setup and auxiliary containers apart by their labels.</summary>
    public ConcurrentDictionary<string, CreatedContainer> Specs { get; } = new(StringComparer.Ordinal);

    /// <summary>Every network created through the recorded clients (by name) and not removed through them.</summary>
    public ConcurrentDictionary<string, byte> CreatedNetworks { get; } = new(StringComparer.Ordinal);

    /// <summary>Completed calls, named as in <see cref="DockerCalls"/>, with the container they concerned if any.</summary>
    public IReadOnlyList<CallEvent> Events => [.. _events];

    public void Clear() => _events.Clear();

    /// <summary>
    /// Runs before each container is removed, untimed: a last look at it (its engine-side start and finish
    /// times, say). The removal waits for it.
    /// </summary>
    public Func<string, Task>? BeforeRemove { get; set; }

    /// <summary>What <see cref="EngineConnection.WrapHandler"/> takes: the transport's handler behind a recording one.</summary>
    public HttpMessageHandler Wrap(HttpMessageHandler transport) => new Recording(this) { InnerHandler = transport };

    private sealed class Recording(EngineCallRecorder recorder) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var (name, id) = Route(request);
            if (name == DockerCalls.Remove && recorder.BeforeRemove is { } look && id is not null)
            {
                await look(id);
            }

            // Small JSON bodies, buffered so they can be read here and still be sent (or handed to Docker.DotNet) after.
            var sent = name is DockerCalls.Create or DockerCalls.NetworkCreate && request.Content is { } content
                ? await content.ReadAsStringAsync(cancellationToken)
                : null;
            var start = Stopwatch.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken);
            }
            catch
            {
                recorder._events.Enqueue(new CallEvent(name, start, Stopwatch.GetTimestamp(), recorder.ContainerOf(name, id, request)));
                throw;
            }

            string? made = null;
            if (response.IsSuccessStatusCode && name is DockerCalls.Create or DockerCalls.ExecCreate)
            {
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                made = JsonValue(await response.Content.ReadAsStringAsync(cancellationToken), "Id");
            }

            recorder.Track(name, id, made, sent, response);
            var container = name == DockerCalls.Create ? made : recorder.ContainerOf(name, id, request);
            return new ObservedResponse(response, () => recorder._events.Enqueue(new CallEvent(name, start, Stopwatch.GetTimestamp(), container)));
        }
    }

    /// <summary>Keeps <see cref="Created"/>, <see cref="Specs"/>, <see cref="CreatedNetworks"/> and the exec ids' containers up to date.</summary>
    private void Track(string name, string? id, string? made, string? sent, HttpResponseMessage response)
    {
        var done = response.IsSuccessStatusCode;
        if (name == DockerCalls.Create && made is not null && sent is not null)
        {
            using var spec = JsonDocument.Parse(sent);
            var labels = spec.RootElement.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object
                ? l.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal);
            Specs[made] = new CreatedContainer(spec.RootElement.GetProperty("Image").GetString() ?? "", labels);
            Created[made] = 0;
        }
        else if (name == DockerCalls.ExecCreate && made is not null && id is not null)
        {
            _execs[made] = id;
        }
        else if (name == DockerCalls.Remove && id is not null && (done || response.StatusCode == HttpStatusCode.NotFound))
        {
            Created.TryRemove(id, out _);
        }
        else if (name == DockerCalls.NetworkCreate && done && sent is not null && JsonValue(sent, "Name") is { } network)
        {
            CreatedNetworks[network] = 0;
        }
        else if (name == DockerCalls.NetworkRemove && id is not null && (done || response.StatusCode == HttpStatusCode.NotFound))
        {
            CreatedNetworks.TryRemove(id, out _);
        }
    }

    /// <summary>The container a call concerns: the one in its path, an exec's, or a commit's (its query).</summary>
    private string? ContainerOf(string name, string? id, HttpRequestMessage request) => name switch
    {
        _ when name.StartsWith("POST /exec/", StringComparison.Ordinal) || name.StartsWith("GET /exec/", StringComparison.Ordinal) =>
            id is not null && _execs.TryGetValue(id, out var container) ? container : null,
        _ when name.Contains(" /containers/{id}", StringComparison.Ordinal) => id,
        DockerCalls.Commit => HttpUtility.ParseQueryString(request.RequestUri?.Query ?? "")["container"],
        _ => null,
    };

    /// <summary>A request's name (method and path without the API version, the id or image name in it replaced) and that id.</summary>
    private static (string Name, string? Id) Route(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? "/";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToList();
        if (segments is [var version, ..] && version.Length > 1 && version[0] == 'v' && char.IsAsciiDigit(version[1]))
        {
            segments.RemoveAt(0);
        }

        string? id = null;
        if (segments is ["containers" or "exec" or "networks" or "volumes", var named, ..] && named is not ("create" or "json" or "prune"))
        {
            id = named;
            segments[1] = "{id}";
        }
        else if (segments is ["images", var first, ..] && first is not ("create" or "json" or "search" or "prune" or "load" or "get"))
        {
            // An image's name may hold slashes: everything up to the action (json, tag, push, history) is the name.
            segments = segments[^1] is "json" or "tag" or "push" or "history" && segments.Count > 2 ? ["images", "{name}", segments[^1]] : ["images", "{name}"];
        }

        return ($"{request.Method.Method} /{string.Join('/', segments)}", id);
    }

    private static string? JsonValue(string json, string property)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty(property, out var value) ? value.GetString() : null;
    }

    /// <summary>
    /// The transport's response as itself (same status, headers and content, so a hijacked stream still hijacks), telling
    /// when it is disposed: that is when Docker.DotNet, or the caller holding its stream, is done with the call.
    /// </summary>
    private sealed class ObservedResponse : HttpResponseMessage
    {
        private Action? _disposed;

        public ObservedResponse(HttpResponseMessage inner, Action disposed)
            : base(inner.StatusCode)
        {
            _disposed = disposed;
            ReasonPhrase = inner.ReasonPhrase;
            Version = inner.Version;
            RequestMessage = inner.RequestMessage;
            Content = inner.Content;
            foreach (var (header, values) in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header, values);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Interlocked.Exchange(ref _disposed, null)?.Invoke();
            }

            base.Dispose(disposing);
        }
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
