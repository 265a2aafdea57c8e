using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Tests.Boxes;

/// <summary>
/// Just enough of a swarm manager's HTTP API (one manager node "n1", which is also the node engine) for
/// <see cref="SandboxRunner.Boxes.Swarm.SwarmPool"/>'s hand-over and removal to run against it: the node listing, an
/// empty service and container listing, a container that runs, label updates and removals. Every request is recorded
/// as "METHOD /path"; <see cref="OnUpdate"/> lets a test hold a service update (the relabel) open.
/// </summary>
internal sealed partial class FakeSwarmApi : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;
    private readonly ConcurrentQueue<string> _requests = new();

    public FakeSwarmApi()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = ServeAsync();
    }

    public int Port { get; }

    public Uri Endpoint => new($"tcp://127.0.0.1:{Port}");

    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Whether the one container the fake knows runs (an inspect answers with it).</summary>
    public bool ContainerRunning { get; set; } = true;

    /// <summary>What a container removal answers: 200, or an engine error (a node that fails it).</summary>
    public int ContainerRemoval { get; set; } = 200;

    /// <summary>Whether a container inspect answers with a body that is not JSON (an engine or proxy gone wrong).</summary>
    public bool GarbledInspect { get; set; }

    /// <summary>What a service removal answers: 200, or a manager error.</summary>
    public int ServiceRemoval { get; set; } = 200;

    /// <summary>Labels a task's box carries once handed over.</summary>
    public static IReadOnlyDictionary<string, string> TaskLabels { get; } = new Dictionary<string, string> { [SandboxRunner.Boxes.Labels.Run] = "run-1", [SandboxRunner.Boxes.Labels.Task] = "t1" };

    /// <summary>A warm box of shape <c>shape</c> on node <c>n1</c> whose container is <c>c-</c><paramref name="id"/>.</summary>
    public static SandboxRunner.Boxes.Swarm.WarmBox WarmBox(string id) =>
        new("shape", id, "n1", "c-" + id, DateTimeOffset.UtcNow, new Docker.DotNet.Models.ServiceSpec { Name = id }, 1);

    /// <summary>A swarm backend whose manager (and only node's engine) is this fake, with a pool.</summary>
    public SandboxRunner.Boxes.Swarm.SwarmBackend Backend(int? perNode = null) =>
        new(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new SandboxRunner.Boxes.Docker.EngineConnection(Endpoint),
            new SandboxRunner.Boxes.Swarm.SwarmOptions(MaxTasksPerNode: perNode, WarmBoxes: SandboxRunner.Boxes.Swarm.SwarmOptions.DefaultWarmBoxes));

    /// <summary>Whether <paramref name="condition"/> holds within 10 s.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var waited = 0; waited < 10_000 && !condition(); waited += 50)
        {
            await Task.Delay(50);
        }

        return condition();
    }

    /// <summary>Awaited before a service update is answered (default: answered at once).</summary>
    public Func<string, Task> OnUpdate { get; set; } = _ => Task.CompletedTask;

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = AnswerAsync(context);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            var method = context.Request.HttpMethod;
            var path = Version().Replace(context.Request.Url!.AbsolutePath, "");
            _requests.Enqueue($"{method} {path}");
            var (status, body) = await RouteAsync(method, path);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            var bytes = Encoding.UTF8.GetBytes(body);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException or InvalidOperationException)
        {
        }
    }

    private async Task<(int Status, string Body)> RouteAsync(string method, string path)
    {
        switch (method, path)
        {
            case ("GET", "/info"):
                return (200, """{"Swarm":{"LocalNodeState":"active","ControlAvailable":true,"NodeID":"n1"}}""");
            case ("GET", "/nodes"):
                return (200, """[{"ID":"n1","Description":{"Hostname":"n1"},"Status":{"State":"ready"},"Spec":{"Availability":"active"}}]""");
            case ("GET", "/services" or "/tasks" or "/containers/json" or "/networks" or "/secrets" or "/configs"):
                return (200, "[]");
        }

        if (method == "POST" && path.StartsWith("/services/", StringComparison.Ordinal) && path.EndsWith("/update", StringComparison.Ordinal))
        {
            await OnUpdate(path["/services/".Length..^"/update".Length]);
            return (200, "{}");
        }

        if (method == "GET" && path.StartsWith("/containers/", StringComparison.Ordinal) && path.EndsWith("/json", StringComparison.Ordinal))
        {
            if (GarbledInspect)
            {
                return (200, "<html>not the engine</html>");
            }

            return (200, ContainerRunning ? """{"Id":"c","State":{"Running":true,"Status":"running"}}""" : """{"Id":"c","State":{"Running":false,"Status":"exited"}}""");
        }

        if (method == "DELETE" && path.StartsWith("/containers/", StringComparison.Ordinal))
        {
            return (ContainerRemoval, ContainerRemoval == 200 ? "{}" : """{"message":"node engine failed the removal"}""");
        }

        if (method == "DELETE" && path.StartsWith("/services/", StringComparison.Ordinal))
        {
            return (ServiceRemoval, ServiceRemoval == 200 ? "{}" : """{"message":"the manager failed the removal"}""");
        }

        if (method == "DELETE")
        {
            return (200, "{}");
        }

        return (404, """{"message":"not in the fake"}""");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Close();
        await _serving;
        _stop.Dispose();
    }

    [GeneratedRegex(@"^/v\d+\.\d+")]
    private static partial Regex Version();
}
