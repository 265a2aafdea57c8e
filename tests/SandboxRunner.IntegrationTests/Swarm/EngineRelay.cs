using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// An endpoint on 127.0.0.1 in front of a TLS engine that presents the client certificate for whoever connects, so the
/// real swarm can be shown as a misconfigured one without a second swarm: plain TCP (the swarm as a runner configured
/// without TLS reaches it: <c>DOCKER_HOST=tcp://…</c>, no <c>DOCKER_TLS_VERIFY</c>), or TLS that asks no client
/// certificate (an engine on <c>dockerd --tls</c> without <c>--tlsverify</c>).
/// </summary>
public sealed class EngineRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly EngineConnection _target;
    private readonly X509Certificate2Collection _client;
    private readonly X509Certificate2? _server;
    private readonly List<Task> _pipes = [];
    private readonly Task _accepting;

    /// <summary>A relay in front of <paramref name="target"/>; with <paramref name="server"/>, its side speaks TLS with that certificate and asks no client certificate.</summary>
    public EngineRelay(EngineConnection target, X509Certificate2? server = null)
    {
        _server = server;
        var certs = target.CertPath ?? throw new ArgumentException("the relay stands in front of a TLS engine", nameof(target));
        _target = target;
        // SslStream on Linux presents a client key as loaded from PKCS#12, not one read from PEM.
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(certs, "cert.pem"), Path.Combine(certs, "key.pem"));
        _client = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        _listener.Start();
        Connection = new EngineConnection(new Uri($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}"));
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's endpoint, as a connection without certificates: what reaches the engine behind it.</summary>
    public EngineConnection Connection { get; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_pipes)
            {
                _pipes.Add(PipeAsync(inbound));
            }
        }
    }

    private async Task PipeAsync(TcpClient inbound)
    {
        try
        {
            using (inbound)
            using (var outbound = new TcpClient())
            {
                await outbound.ConnectAsync(_target.Endpoint.Host, _target.Endpoint.Port, _stop.Token);
                // The test's own engine, signed by the test's own authority: the relay checks nothing of it.
#pragma warning disable CA5359
                await using var secure = new SslStream(outbound.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
#pragma warning restore CA5359
                await secure.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = _target.Endpoint.Host, ClientCertificates = _client }, _stop.Token);
                Stream front = inbound.GetStream();
                if (_server is not null)
                {
                    var anonymous = new SslStream(front, leaveInnerStreamOpen: false);
                    await anonymous.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _server, ClientCertificateRequired = false }, _stop.Token);
                    front = anonymous;
                }

                await using (front)
                {
                    await Task.WhenAny(front.CopyToAsync(secure, _stop.Token), secure.CopyToAsync(front, _stop.Token));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // A connection of the relay's that ended: its client sees it closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] pipes;
        lock (_pipes)
        {
            pipes = [.. _pipes];
        }

        await Task.WhenAll(pipes);
        foreach (var certificate in _client)
        {
            certificate.Dispose();
        }

        _stop.Dispose();
    }
}
