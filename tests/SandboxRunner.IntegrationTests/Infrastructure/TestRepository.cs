using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>A throwaway git repository with text, binary and soon-deleted files in its first commit.</summary>
public sealed class TestRepository : IDisposable
{
    public static readonly byte[] BinaryContent = [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 7 % 256))];

    public TestRepository()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sr-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
        Git("init", "-q", "-b", "main");
        Git("config", "user.name", "Test");
        Git("config", "user.email", "test@example.invalid");
        Write("README.md", "# Test repo\n");
        Write("src/app.txt", "line 1\nline 2\n");
        Write("docs/old.txt", "to be deleted\n");
        File.WriteAllBytes(System.IO.Path.Combine(Path, "src", "data.bin"), BinaryContent);
        Git("add", "-A");
        Git("commit", "-qm", "initial");
        BaseCommit = Git("rev-parse", "HEAD").Trim();
    }

    public string Path { get; }

    public string BaseCommit { get; }

    public string GitDir => System.IO.Path.Combine(Path, ".git");

    public void Write(string relative, string content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    public void WriteConfig(string json) => Write(".mcp-codex.json", json);

    public string Git(params string[] args) => RunGit(Path, null, args);

    public static string RunGit(string workingDirectory, byte[]? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
        }

        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}");
        }

        return stdout.Result;
    }

    /// <summary>
    /// A fingerprint of everything an agent must not be able to change in the host repository: config,
    /// hooks, HEAD, refs, packed refs, the worktree registry, and the set of objects. Left out: what the
    /// runner itself writes (its folder, result branches and their objects' packs, the info/exclude line).
    /// </summary>
    public string GitStateFingerprint()
    {
        var text = new StringBuilder();
        foreach (var file in Directory.EnumerateFiles(GitDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = System.IO.Path.GetRelativePath(GitDir, file);
            if (relative is "index" or "info/exclude" || relative.StartsWith("sandbox-runner", StringComparison.Ordinal)
                || relative.StartsWith("logs", StringComparison.Ordinal) || relative.StartsWith("refs/heads/sandbox", StringComparison.Ordinal)
                || relative.StartsWith("objects/", StringComparison.Ordinal))
            {
                continue;
            }

            text.Append(relative).Append(' ').Append(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)))).Append('\n');
        }

        // Objects may be added by the runner (a result branch) but never changed or removed.
        return text.ToString();
    }

    /// <summary>Every object file with its hash: existing objects must survive a run unchanged.</summary>
    public IReadOnlyDictionary<string, string> ObjectFiles() =>
        Directory.EnumerateFiles(System.IO.Path.Combine(GitDir, "objects"), "*", SearchOption.AllDirectories)
            .ToDictionary(f => System.IO.Path.GetRelativePath(GitDir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    public void Dispose()
    {
        try
        {
            Platform.TreeDeletion.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
