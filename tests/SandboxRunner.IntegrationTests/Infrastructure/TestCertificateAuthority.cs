using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A certificate authority made for one test, as a TLS-inspecting network has: nothing trusts it unless told to.
/// It signs server certificates (an address of this machine that containers reach; a Docker engine's addresses) and
/// client certificates (what a Docker client presents to an engine that verifies its clients), made in process.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly RSA _key = RSA.Create(2048);

    public TestCertificateAuthority(string name)
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The authority's certificate as a PEM file's text.</summary>
    public string Pem => Certificate.ExportCertificatePem() + "\n";

    /// <summary>A server certificate for <paramref name="address"/>, with its private key, signed by this authority.</summary>
    public X509Certificate2 IssueServer(IPAddress address) => Issue($"CN={address}", ServerAuth, [address], []);

    /// <summary>A server certificate for every address and DNS name given, with its private key (a Docker engine's, say).</summary>
    public X509Certificate2 IssueServer(string name, IEnumerable<IPAddress> addresses, IEnumerable<string> dnsNames) => Issue($"CN={name}", ServerAuth, addresses, dnsNames);

    /// <summary>A client certificate (TLS client authentication only), with its private key: what a Docker client presents to <c>dockerd --tlsverify</c>.</summary>
    public X509Certificate2 IssueClient(string name) => Issue($"CN={name}", ClientAuth, [], []);

    /// <summary>
    /// Writes the authority's certificate and a client certificate as <c>DOCKER_CERT_PATH</c> expects them
    /// (<c>ca.pem</c>, <c>cert.pem</c>, <c>key.pem</c>) into <paramref name="directory"/>.
    /// </summary>
    public void WriteClientFiles(string directory, string name)
    {
        using var client = IssueClient(name);
        WritePem(directory, "ca.pem", "cert.pem", "key.pem", client);
    }

    /// <summary>
    /// Writes what <c>dockerd --tlsverify</c> (images/dind) reads into <paramref name="directory"/>: <c>ca.pem</c> (the
    /// authority clients must be signed by), <c>server-cert.pem</c> and <c>server-key.pem</c>.
    /// </summary>
    public void WriteServerFiles(string directory, string name, IEnumerable<IPAddress> addresses, IEnumerable<string> dnsNames)
    {
        using var server = IssueServer(name, addresses, dnsNames);
        WritePem(directory, "ca.pem", "server-cert.pem", "server-key.pem", server);
    }

    private void WritePem(string directory, string caFile, string certFile, string keyFile, X509Certificate2 issued)
    {
        using var key = issued.GetRSAPrivateKey() ?? throw new InvalidOperationException("an issued certificate carries its RSA key");
        File.WriteAllText(Path.Combine(directory, caFile), Pem);
        File.WriteAllText(Path.Combine(directory, certFile), issued.ExportCertificatePem() + "\n");
        var keyPath = Path.Combine(directory, keyFile);
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");

        // Read by the dockerd in a container (root there, but a bind mount keeps this machine's modes).
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private X509Certificate2 Issue(string subject, Oid usage, IEnumerable<IPAddress> addresses, IEnumerable<string> dnsNames)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        var any = false;
        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
            any = true;
        }

        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
            any = true;
        }

        if (any)
        {
            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(Certificate, DateTimeOffset.UtcNow.AddDays(-1), Certificate.NotAfter.AddHours(-1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);

        // Kestrel on Linux wants a certificate whose key it can use as loaded from PKCS#12.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
