"""SSH to the hosts freetier manages, through asyncssh: host keys pinned in a file of the
repository (trust on first use recorded there, never unchecked), sudo authenticated through
the forwarded agent, one error line naming the host for every failure."""

from freetier.ssh.agent import Agent, start_agent
from freetier.ssh.known_hosts import KnownHosts
from freetier.ssh.session import Endpoint, Output, Session, connect

__all__ = ["Agent", "Endpoint", "KnownHosts", "Output", "Session", "connect", "start_agent"]
