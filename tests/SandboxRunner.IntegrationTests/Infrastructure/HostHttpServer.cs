using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A tiny HTTP/1.x server on this machine (all interfaces, so containers reach it through the docker0
/// gateway) that answers every request with a fixed body and records the request head. Traffic in these
/// tests never leaves the machine.
/// </summary>
public sealed class HostHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Any, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly Func<int, string> _bodyFor;
    private int _served;

    public HostHttpServer(string body)
        : this(_ => body)
    {
    }

    /// <summary>A server whose body for the <c>n</c>-th request (0-based, in arrival order) is <paramref name="bodyFor"/>(n).</summary>
    public HostHttpServer(Func<int, string> bodyFor)
    {
        _bodyFor = bodyFor;
        Body = bodyFor(0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Body { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>
    /// When set, every request is recorded at once but answered only after it completes: a task stays in the
    /// middle of its request (and its run's proxy alive) until the test lets it go.
    /// </summary>
    public TaskCompletionSource? Hold { get; set; }

    /// <summary>The head (request line and headers) of every request received.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var head = new StringBuilder();
            var buffer = new byte[4096];
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                head.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            Requests.Enqueue(head.ToString());
            if (Hold is { } hold)
            {
                await hold.Task.WaitAsync(_stop.Token);
            }

            var body = Encoding.UTF8.GetBytes(_bodyFor(Interlocked.Increment(ref _served) - 1));
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
            await stream.WriteAsync(body, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
