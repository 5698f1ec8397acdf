/**
 * The server's connections, for shutdown. `server.close()` stops accepting and closes the
 * keep-alive connections that are idle at that moment, but not a connection that has not sent a
 * complete request yet: browsers open spare ones ahead of need (a console tab usually holds one),
 * and Node stops timing them out once the server closes, so one such socket holds the process
 * until the client goes away. Shutdown therefore closes every connection without a request in
 * progress at once, lets the requests in progress finish (closing their connections after the
 * answer), and cuts whatever is left when the grace period runs out.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionTracker {
  /** Connections open now, and how many of them have a request in progress. */
  counts(): { open: number; busy: number };
  /**
   * Stop keeping connections alive: close the ones without a request in progress now, and each
   * other one as soon as its answer has been sent. Connections accepted from now on are closed.
   */
  drain(): void;
  /** Close every connection, requests in progress or not (the grace period is over). */
  closeAll(): void;
}

export function trackConnections(server: Server): ConnectionTracker {
  /** Each open connection and its answers in progress (more than one when requests are pipelined). */
  const connections = new Map<Socket, Set<ServerResponse>>();
  let draining = false;

  server.on('connection', (socket: Socket) => {
    if (draining) {
      socket.destroy();
      return;
    }
    connections.set(socket, new Set());
    socket.once('close', () => connections.delete(socket));
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    const answers = connections.get(socket);
    if (!answers) return;
    answers.add(response);
    if (draining && !response.headersSent) response.setHeader('connection', 'close');
    const finished = () => {
      if (!answers.delete(response)) return;
      // The answer is written: close the connection once it is flushed instead of keeping it alive.
      if (draining && answers.size === 0) socket.destroySoon();
    };
    response.once('finish', finished);
    response.once('close', finished);
  });

  return {
    counts: () => ({
      open: connections.size,
      busy: [...connections.values()].filter((answers) => answers.size > 0).length,
    }),
    drain: () => {
      draining = true;
      for (const [socket, answers] of connections) {
        if (answers.size === 0) {
          socket.destroy();
          continue;
        }
        // Answers not started yet tell the client not to reuse the connection.
        for (const response of answers) {
          if (!response.headersSent) response.setHeader('connection', 'close');
        }
      }
    },
    closeAll: () => {
      server.closeAllConnections();
      for (const socket of connections.keys()) socket.destroy();
    },
  };
}
