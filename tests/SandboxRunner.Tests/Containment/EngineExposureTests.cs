using System.Net;
using System.Net.Sockets;
using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Containment;

/// <summary>
/// How the runner tells whether a container could call the engine's API: a plain-TCP endpoint always could; a
/// port answers only when a Docker engine (status 200 with <c>Api-Version</c>) replies to an anonymous ping.
/// </summary>
public sealed class EngineExposureTests
{
    [Theory]
    [InlineData("tcp://docker:2375")]
    [InlineData("http://10.0.0.5:2375")]
    public async Task A_plain_tcp_endpoint_is_exposed_whatever_answers(string endpoint)
    {
        var reason = await EngineExposure.ProbeAsync(new EngineConnection(new Uri(endpoint)), null, CancellationToken.None);

        Assert.Contains("plain TCP, without TLS", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_unix_socket_with_nothing_on_the_bridge_gateway_is_not_exposed()
    {
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        Assert.Null(await EngineExposure.ProbeAsync(new EngineConnection(new Uri("unix:///var/run/docker.sock")), null, CancellationToken.None));
        Assert.False(await EngineExposure.AnswersAsync("127.0.0.1", port, tls: false, CancellationToken.None));
    }

    [Fact]
    public async Task A_port_where_a_docker_engine_answers_the_ping_is_exposed_and_another_http_server_is_not()
    {
        await using var engine = new OneAnswer("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK");
        await using var web = new OneAnswer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");

        Assert.True(await EngineExposure.AnswersAsync("127.0.0.1", engine.Port, tls: false, CancellationToken.None));
        Assert.False(await EngineExposure.AnswersAsync("127.0.0.1", web.Port, tls: false, CancellationToken.None));
    }

    [Fact]
    public async Task A_plain_server_asked_for_tls_does_not_count_as_answering()
    {
        await using var engine = new OneAnswer("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK");

        Assert.False(await EngineExposure.AnswersAsync("127.0.0.1", engine.Port, tls: true, CancellationToken.None));
    }

    /// <summary>A loopback server that answers every connection with the same bytes once the request head is in.</summary>
    private sealed class OneAnswer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;

        public OneAnswer(string answer)
        {
            _listener.Start();
            _serving = ServeAsync(Encoding.ASCII.GetBytes(answer));
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        private async Task ServeAsync(byte[] answer)
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    var head = "";
                    while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await stream.ReadAsync(buffer, _stop.Token);
                        if (read == 0)
                        {
                            break;
                        }

                        head += Encoding.ASCII.GetString(buffer, 0, read);
                    }

                    if (head.StartsWith("GET /_ping ", StringComparison.Ordinal))
                    {
                        await stream.WriteAsync(answer, _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or InvalidOperationException)
            {
                // Disposal stops the listener, possibly between two accepts: "Not listening" ends the loop too.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _serving;
            _stop.Dispose();
        }
    }
}
